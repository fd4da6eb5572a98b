"""Progress bars for long stages (rich), quiet when output is not a terminal.

Plugins wrap their loops in :func:`track`; ``RETRIKT_PROGRESS=0`` or ``=1``
forces bars off or on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# Bars open now: a loop inside another's (a generator's own sampling bar
# within the stage's bar over shards) runs bare, since the terminal holds one
# live display at a time.
_open_bars = 0


def progress_enabled() -> bool:
    if _open_bars:
        return False
    forced = os.environ.get("RETRIKT_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "")
    import sys

    return sys.stderr.isatty()


@contextmanager
def _bar(*extra) -> Iterator[Any]:
    """A transient rich progress bar on stderr; ``extra`` columns go after the count."""
    global _open_bars
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
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    _open_bars += 1
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            yield progress
    finally:
        _open_bars -= 1


def track(iterable: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a transient progress bar on stderr when enabled."""
    if not progress_enabled():
        yield from iterable
        return
    with _bar() as progress:
        yield from progress.track(iterable, total=total, description=description)


def track_weighted(
    iterable: Iterable[tuple[int, T]],
    description: str,
    total: int,
    weights: dict[int, int],
    completed: int = 0,
) -> Iterator[tuple[int, T]]:
    """Iterate ``(key, value)`` pairs with a bar over ``total`` rows, each pair
    advancing it by ``weights[key]`` (say the rows of a shard), with rows/s;
    ``completed`` rows were done before (resumed work)."""
    if not progress_enabled():
        yield from iterable
        return
    from rich.progress import TextColumn

    with _bar(TextColumn("{task.fields[rate]} rows/s")) as progress:
        task = progress.add_task(description, total=total, completed=completed, rate="-")
        for key, value in iterable:
            progress.advance(task, weights.get(key, 0))
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.1f}" if speed else "-")
            yield key, value
