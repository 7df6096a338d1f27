"""``python -m marketmaestro`` is ``mm``."""

from marketmaestro.cli.main import main

main()
