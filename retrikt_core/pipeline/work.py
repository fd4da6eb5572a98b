"""The sharded work of the pipeline's stages, as executors run it."""

from __future__ import annotations

from typing import Any

from retrikt_core.execution import ShardWork
from retrikt_core.records import Example


class LabelWork(ShardWork):
    """The teacher's distribution for each row (``{"text", "text_pair"}``),
    predicted ``batch_size`` rows at a time from the start of the shard.

    A worker loads the teacher saved at ``teacher_dir`` through the same
    ``from_pretrained`` path as every other reader; the local executor passes
    the teacher the stage already holds instead.
    """

    def __init__(self, teacher_dir: str, batch_size: int, teacher: Any | None = None) -> None:
        self.teacher_dir = str(teacher_dir)
        self.batch_size = batch_size
        self.teacher = teacher

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "teacher": None}  # workers load their own

    def setup(self) -> None:
        if self.teacher is None:
            from retrikt_core.pipeline.rundir import load_component
            from retrikt_core.plugins import get_plugins

            self.teacher = load_component(self.teacher_dir, "teacher", get_plugins())

    def __call__(self, rows: list[dict[str, Any]]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            examples = [Example(r["text"], r.get("text_pair")) for r in chunk]
            out += [[float(p) for p in row] for row in self.teacher.predict_proba(examples)]
        return out
