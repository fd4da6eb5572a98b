"""The ``retrikt`` command line (Typer + rich). It only wires: configs in,
pipeline runs, tables out. Heavy libraries load inside plugins, on demand.
Nothing in retrikt imports this package; it imports the rest."""

from retrikt_core.cli import (  # noqa: F401 (each module adds its commands)
    bundle_commands,
    data_commands,
    info_commands,
    run_commands,
    serve_commands,
)
from retrikt_core.cli.app import app, main

__all__ = ["app", "main"]
