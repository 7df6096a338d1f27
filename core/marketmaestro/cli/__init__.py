"""The ``mm`` command line."""
