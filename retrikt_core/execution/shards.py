"""Shard resume: finished shards on disk, and running only the others.

A stage's shards live in ``RUN_DIR/stages/<stage>.shards/`` beside its
``.partial`` folder, which a rerun clears; this one a rerun keeps, as long as
its ``key`` (what the shards were computed from) still matches. The stage's
commit removes it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_text
from retrikt_core.errors import PipelineError
from retrikt_core.execution.executor import Executor, ShardWork
from retrikt_core.progress import track_weighted


class ShardFolder:
    """Finished shards of one piece of work, identified by ``key``."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        key_file = self.path / "key"
        if key_file.is_file() and key_file.read_text() != key:
            # Computed from other inputs (a changed config or teacher): stale.
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(key_file, key)

    def shard_path(self, index: int) -> Path:
        return self.path / f"shard-{index:05d}.json"

    def write(self, index: int, rows: int, results: list[Any]) -> list[Any]:
        """Save a finished shard; returns its results as read back from the
        saved text, so results computed now and results reused from an
        earlier attempt have made the same JSON round trip."""
        text = json.dumps({"rows": rows, "results": results})
        atomic_write_text(self.shard_path(index), text)
        return json.loads(text)["results"]

    def read(self, index: int, rows: int) -> list[Any] | None:
        """The results of shard ``index`` if it finished whole, else None (a
        damaged shard file counts as not finished)."""
        try:
            saved = json.loads(self.shard_path(index).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("rows") != rows:
            return None
        results = saved.get("results")
        return results if isinstance(results, list) and len(results) == rows else None


def run_sharded(
    executor: Executor,
    work: ShardWork,
    rows: list[dict[str, Any]],
    shard_rows: int,
    folder: ShardFolder,
    description: str,
) -> list[Any]:
    """``work`` applied to every row, cut into shards of ``shard_rows``;
    shards already in ``folder`` are reused, the others run on ``executor``
    and are saved as each finishes. Results come back in the rows' order."""
    shards = [rows[start : start + shard_rows] for start in range(0, len(rows), shard_rows)]
    results: dict[int, list[Any]] = {}
    for index, shard in enumerate(shards):
        done = folder.read(index, len(shard))
        if done is not None:
            results[index] = done
    pending = [(i, shard) for i, shard in enumerate(shards) if i not in results]
    finished = executor.run(work, pending)
    sizes = {i: len(shard) for i, shard in pending}
    for index, out in track_weighted(
        finished, description, len(rows), sizes, len(rows) - sum(sizes.values())
    ):
        if index not in sizes or index in results:
            raise PipelineError(f"{description}: executor returned shard {index} twice or unasked")
        if len(out) != sizes[index]:
            raise PipelineError(
                f"{description}: shard {index} came back with {len(out)} results "
                f"for {sizes[index]} rows"
            )
        results[index] = folder.write(index, sizes[index], out)
    missing = [i for i in range(len(shards)) if i not in results]
    if missing:
        raise PipelineError(f"{description}: executor finished without shards {missing[:5]}")
    executor.close()
    return [result for index in range(len(shards)) for result in results[index]]
