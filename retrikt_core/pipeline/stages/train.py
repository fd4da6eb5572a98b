"""``train``: fit the students (k-shot only, KD, the retrieving student, and
the SetFit baseline)."""

from __future__ import annotations

from typing import Any

from retrikt_core.config.sections import BASELINE_METHOD
from retrikt_core.interfaces import Component
from retrikt_core.pipeline.stage import STUDENT_METHODS, StageContext
from retrikt_core.pipeline.stages.index import build_retriever
from retrikt_core.progress import track
from retrikt_core.records import Knowledge

# The students that learn from the knowledge (the others see the k-shot split only).
KNOWLEDGE_METHODS = ("kd_student", "retrikt_student")


def teacher_states(teacher: Component, knowledge: list[Knowledge], batch: int = 64):
    """``[n, D]`` float32: the teacher's hidden state of each knowledge entry."""
    import numpy as np

    parts = []
    batches = range(0, len(knowledge), batch)
    for i in track(batches, "train: teacher hidden states", total=len(batches)):
        chunk = knowledge[i : i + batch]
        part = np.asarray(teacher.embed([k.example for k in chunk]), np.float32)
        if part.ndim != 2 or part.shape[0] != len(chunk):
            raise ValueError(
                f"teacher {teacher.name!r}: embed gave shape {part.shape} for {len(chunk)} inputs"
            )
        parts.append(part)  # float32 per batch: a store of lists of floats would be 5x larger
    return np.concatenate(parts)


def stage_train(ctx: StageContext) -> dict[str, Any]:
    task = ctx.task()
    kshot = ctx.read_examples("prepare", "kshot.jsonl")
    knowledge = ctx.read_knowledge()
    counts: dict[str, Any] = {}
    wanted = [m for m in STUDENT_METHODS if m in ctx.config.evaluate.methods]
    states = None
    uses_knowledge = any(m in KNOWLEDGE_METHODS for m in wanted)
    if knowledge and uses_knowledge and ctx.build("student").wants_teacher_states():
        states = teacher_states(ctx.load("teacher", "teacher", "teacher"), knowledge)
        counts["teacher_states"] = list(states.shape)
    for method in wanted:
        # The baseline is its own student (SetFit), on the k-shot split alone.
        student = ctx.build("baseline" if method == BASELINE_METHOD else "student")
        retriever = build_retriever(ctx) if method == "retrikt_student" else None
        data = knowledge if method in KNOWLEDGE_METHODS else []
        extra = {"teacher_states": states} if states is not None and data else {}
        stats = student.fit(task, kshot, data, retriever, seed=ctx.seed, **extra)
        student.save_pretrained(ctx.out / method)
        counts[method] = {"params": student.num_parameters(), **stats}
    return counts
