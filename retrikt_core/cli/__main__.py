"""``python -m retrikt_core.cli``: the ``retrikt`` command."""

from retrikt_core.cli import main

# Guarded: engines that start workers with `spawn` (vLLM) import the parent's
# main module again in each worker, which must not start a second run.
if __name__ == "__main__":
    main()
