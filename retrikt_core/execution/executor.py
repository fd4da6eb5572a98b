"""The executor kind: what applies a piece of work to shards of rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from copy import copy
from typing import Any, ClassVar

from retrikt_core.interfaces import Component

Shard = tuple[int, list[dict[str, Any]]]


class ShardWork(ABC):
    """What a worker does: :meth:`setup` once (load a model from its saved
    folder), then map each shard's rows to one result per row.

    Work objects travel to remote workers by pickling, so they hold paths and
    plain values; what ``setup`` loads is dropped from the pickled state:
    the attributes named in ``loaded``, reset to their empty value.
    """

    #: Attribute -> its value before ``setup`` (what a worker starts from).
    loaded: ClassVar[dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        empty = {name: copy(value) for name, value in self.loaded.items()}
        return {**self.__dict__, **empty}  # workers load their own

    def setup(self) -> None:  # noqa: B027 (optional hook)
        """Load what the work needs; called once per worker before any shard."""

    @abstractmethod
    def __call__(self, rows: list[dict[str, Any]]) -> list[Any]:
        """One JSON-able result per row, in order."""


class Executor(Component):
    """Applies :class:`ShardWork` to shards: in this process, or elsewhere."""

    kind: ClassVar[str] = "executor"

    @property
    def shard_rows(self) -> int:
        """Rows per shard, as configured (``batch_size``)."""
        return int(self.options.batch_size)

    @abstractmethod
    def run(self, work: ShardWork, shards: list[Shard]) -> Iterator[tuple[int, list[Any]]]:
        """Yield ``(shard index, results)`` for every shard as each finishes,
        in any order; a shard's results are one per row, in the rows' order."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release workers once the stage is done."""
