"""``prepare``: load the task, sample the k-shot set, keep the eval split."""

from __future__ import annotations

from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text
from retrikt_core.datafiles import sample_eval
from retrikt_core.errors import PipelineError
from retrikt_core.pipeline.stage import StageContext
from retrikt_core.records import dump_jsonl


def stage_prepare(ctx: StageContext) -> dict[str, Any]:
    task = ctx.task()
    train = task.load(task.train_split)
    kshot = task.sample_k_shot(train, task.k_shot, ctx.config.run.seed)
    evaluation = task.load(task.eval_split)
    if any(e.label is None for e in evaluation):
        raise PipelineError(f"task {task.name!r}: split {task.eval_split!r} has unlabelled rows")
    evaluation = sample_eval(evaluation, getattr(task.options, "max_eval", 0), ctx.seed)
    atomic_write_text(ctx.out / "kshot.jsonl", dump_jsonl(kshot))
    atomic_write_text(ctx.out / "eval.jsonl", dump_jsonl(evaluation))
    atomic_write_json(
        ctx.out / "task.json",
        {
            "name": task.name,
            "label_names": task.label_names,
            "verbalizers": task.verbalizers,
            "is_pair": task.is_pair,
            "description": task.description,
            "train_split": task.train_split,
            "eval_split": task.eval_split,
        },
    )
    counts: dict[str, Any] = {"train": len(train), "kshot": len(kshot), "eval": len(evaluation)}
    # What reading each split decided (a header row or not, and why): a wrong
    # guess shows here, not as odd examples three stages later.
    reads = {s: task.data_report(s) for s in (task.train_split, task.eval_split)}
    reads = {s: r for s, r in reads.items() if r is not None}
    if reads:
        counts["read"] = reads
    return counts
