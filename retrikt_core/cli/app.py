"""The ``retrikt`` Typer app and what its commands share: the consoles, the
one place where a user's error becomes ``error: ...`` and exit 2, and config
loading."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from retrikt_core.config import apply_overrides, load_toml, validate
from retrikt_core.errors import RetriktError
from retrikt_core.plugins import get_plugins

app = typer.Typer(
    help="retrikt: retrieval-based knowledge transfer from an LLM into a tiny model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from retrikt_core import __version__

        typer.echo(f"retrikt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """retrikt: retrieval-based knowledge transfer from an LLM into a tiny model."""


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Report an error the user caused (any :class:`RetriktError`) as
    ``error: ...`` and exit 2; anything else is a bug and stays a traceback."""
    try:
        yield
    except RetriktError as exc:
        fail(str(exc))


def load_config(path: Path, overrides: list[str], run_dir: Path | None):
    """Read, override and validate a run config, or exit with the error."""
    from retrikt_core.config import RunConfig

    plugins = get_plugins()
    with user_errors():
        raw = apply_overrides(load_toml(path), overrides)
        config: RunConfig = validate(raw, plugins.registry, source=str(path))
    if run_dir is not None:
        config.run.run_dir = str(run_dir)
    return config, plugins


def run_or_exit(work, kept: str):
    """``work()``, with a config or pipeline error reported (exit 2) and an
    interrupt reported as resumable (exit 130)."""
    try:
        with user_errors():
            return work()
    except MemoryError:
        # Most often a size option set far too large (store.dim, a batch size).
        fail(
            f"out of memory; finished {kept} are kept. Lower the size options of the "
            "config (dimensions, batch sizes, store sizes) and run the same command again."
        )
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/yellow]: finished {kept} are kept; run the same command "
            "again to resume."
        )
        raise typer.Exit(130) from None


def raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: stop, keep what is done
    raise KeyboardInterrupt


def main() -> None:
    # Plugins may add commands (listed by --help too); plugin modules import
    # no heavy libraries, and a broken plugin is reported by `retrikt plugins`.
    get_plugins().hook.register_commands(cli=app)
    app()
