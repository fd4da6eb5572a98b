"""Progress bars for long stages (rich), quiet when output is not a terminal.

Plugins wrap their loops in :func:`track`; ``RETRIKT_PROGRESS=0`` or ``=1``
forces bars off or on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    forced = os.environ.get("RETRIKT_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "")
    import sys

    return sys.stderr.isatty()


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a transient progress bar on stderr when enabled."""
    if not progress_enabled():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("  [progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield from progress.track(iterable, total=total, description=description)
