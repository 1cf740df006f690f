"""``python -m sim`` is the ``loyaltysim`` command."""

from sim.cli.main import main

main()
