"""The ``local`` executor: sharded work in this process (the default)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from retrikt_core.api import Executor, ShardWork, option


@dataclass
class LocalOptions:
    batch_size: int = option(
        2048, "texts per shard to label or encode (each is saved as it finishes)", minimum=1
    )


class LocalExecutor(Executor):
    """Every shard in this process, one after the other (the default)."""

    name = "local"
    Options = LocalOptions

    def run(
        self, work: ShardWork, shards: list[tuple[int, list[dict[str, Any]]]]
    ) -> Iterator[tuple[int, list[Any]]]:
        if shards:
            work.setup()
        for index, rows in shards:
            yield index, work(rows)
