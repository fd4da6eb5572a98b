"""An advisory lock per run (or bench) directory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from retrikt_core.errors import PipelineError


class RunLock:
    """An advisory lock so two processes never write one directory at once."""

    def __init__(self, path: Path, busy: str | None = None) -> None:
        self.path = path
        self.busy = busy or f"{path.parent}: another retrikt process is using this run directory"

    def __enter__(self) -> RunLock:
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise PipelineError(self.busy) from None
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def lock_is_held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` (the lock file may be
    left behind by one that ended: only a held lock counts)."""
    if not path.is_file():
        return False
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
