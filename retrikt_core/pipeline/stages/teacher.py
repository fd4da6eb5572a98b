"""``teacher``: fit the teacher on the k-shot set and score the eval split once."""

from __future__ import annotations

from typing import Any

from retrikt_core.atomic import atomic_write_json
from retrikt_core.pipeline.scoring import timed_predict
from retrikt_core.pipeline.stage import StageContext

TEACHER_EVAL = "eval_predictions.json"


def stage_teacher(ctx: StageContext) -> dict[str, Any]:
    teacher = ctx.build("teacher")
    stats = teacher.fit(ctx.task(), ctx.read_examples("prepare", "kshot.jsonl"), seed=ctx.seed)
    teacher.save_pretrained(ctx.out / "teacher")
    if "teacher" in ctx.config.evaluate.methods:
        # Scored here, once per teacher, rather than in `evaluate`: the teacher
        # is the slowest model of a run, and changing a student, store or
        # retriever must not pay for it again.
        evaluation = ctx.read_examples("prepare", "eval.jsonl")
        probs, seconds = timed_predict(
            teacher.predict_proba, evaluation, ctx.config.evaluate.batch_size, "teacher: eval"
        )
        atomic_write_json(
            ctx.out / TEACHER_EVAL,
            {"ids": [e.id for e in evaluation], "probs": probs, "seconds": seconds},
        )
    return {"params": teacher.num_parameters(), **stats}
