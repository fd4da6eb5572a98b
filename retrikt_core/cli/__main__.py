"""``python -m retrikt_core.cli``: the ``retrikt`` command."""

from retrikt_core.cli import main

main()
