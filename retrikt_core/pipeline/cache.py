"""A stage cache: finished stage outputs by stage and key, shared between runs
(the runs of a bench, or a bench and an earlier run).

A run asks the cache for a finished copy of a stage under the same key before
computing it; a hit is copied into the run and
recorded in the run's manifest as finished, with ``reused_from``. Output ids
are random per computation, so the cached manifest record (and its
``output_id``) travels with the files: downstream keys then match those of the
run that computed the stage, and sharing carries on down the pipeline as far
as the configs agree.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, commit_directory

ENTRY = "entry.json"


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree. Copies, not hard links: a file edited in place in
    one run must not change the cache or another run. (``copy2`` uses the
    kernel's fast copy, which file systems with reflinks make copy-on-write.)"""
    shutil.copytree(src, dst, copy_function=shutil.copy2)


class StageCache:
    """Finished stage outputs by stage and key, shared by the runs of a bench.

    ``CACHE/<stage>/<key>/output/`` holds the stage directory and
    ``CACHE/<stage>/<key>/entry.json`` its manifest record and the run that
    computed it; an entry appears by a single rename, so it is whole or absent.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def has(self, stage: str, key: str) -> bool:
        return (self.entry(stage, key) / ENTRY).is_file()

    def fetch(self, stage: str, key: str, dest: Path) -> dict[str, Any] | None:
        """Put the cached output for ``key`` at ``dest`` and return its manifest
        record (with ``reused_from``); ``None`` when the cache has none."""
        entry = self.entry(stage, key)
        if not (entry / ENTRY).is_file():
            return None
        meta = json.loads((entry / ENTRY).read_text())
        partial = dest.with_name(dest.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        copy_tree(entry / "output", partial)
        commit_directory(partial, dest)
        return {**meta["record"], "reused_from": meta["run_dir"]}

    def put(self, stage: str, key: str, src: Path, record: dict[str, Any], run_dir: Path) -> bool:
        """Add a finished stage directory under ``key``; ``False`` if already there."""
        entry = self.entry(stage, key)
        if (entry / ENTRY).is_file():
            return False
        if entry.exists():  # left by something other than put(): not trusted
            shutil.rmtree(entry)
        origin = record.get("reused_from", str(run_dir))
        record = {k: v for k, v in record.items() if k != "reused_from"}
        tmp = entry.with_name(f".{key}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            copy_tree(src, tmp / "output")
            meta = {"stage": stage, "key": key, "run_dir": origin, "record": record}
            atomic_write_json(tmp / ENTRY, meta, sort_keys=False)
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if (entry / ENTRY).is_file():
                return False
            raise
        return True

    def drop(self, stage: str, key: str) -> None:
        """Remove an entry (one whose files no longer match its record)."""
        shutil.rmtree(self.entry(stage, key), ignore_errors=True)

    def clean(self) -> None:
        """Remove entries a killed process left half-written."""
        for tmp in self.root.glob("*/.*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
