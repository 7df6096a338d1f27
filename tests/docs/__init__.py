"""Meta-tests of the documentation: hooks, links and the example plugin."""
