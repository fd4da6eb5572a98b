"""``evaluate``: compare the methods on the eval split; write metrics and predictions."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from retrikt_core.atomic import atomic_write_json
from retrikt_core.metrics import classification_metrics
from retrikt_core.pipeline.scoring import timed_predict
from retrikt_core.pipeline.stage import StageContext
from retrikt_core.pipeline.stages.index import build_retriever
from retrikt_core.pipeline.stages.teacher import TEACHER_EVAL
from retrikt_core.records import Example


def neighbour_sources(
    neighbor_ids: list[list[str]],
    sources: dict[str, str],
    probs: list[list[float]],
    gold: list[int],
) -> dict[str, dict[str, float]]:
    """Per knowledge source: its share of all retrieved neighbours, and the
    accuracy on the eval examples whose nearest neighbour came from it."""
    counts: Counter = Counter()
    top: dict[str, list[bool]] = {}
    for i, ids in enumerate(neighbor_ids):
        counts.update(sources.get(entry, "?") for entry in ids)
        if ids:
            correct = max(range(len(probs[i])), key=probs[i].__getitem__) == gold[i]
            top.setdefault(sources.get(ids[0], "?"), []).append(correct)
    total = sum(counts.values()) or 1
    return {
        source: {
            "neighbour_share": counts[source] / total,
            "top1_examples": len(top.get(source, [])),
            "top1_accuracy": (
                sum(top[source]) / len(top[source]) if top.get(source) else float("nan")
            ),
        }
        for source in sorted(counts)
    }


class _Counted:
    """Stands in for a model of which only the parameter count is needed."""

    def __init__(self, params: int) -> None:
        self.params = params

    def num_parameters(self) -> int:
        return self.params


def _teacher_eval(ctx: StageContext, evaluation: list[Example]):
    """``(probs, seconds)`` the teacher stage scored on this eval split, if any."""
    path = ctx.stage_dir("teacher") / TEACHER_EVAL
    if not path.is_file():
        return None
    cached = json.loads(path.read_text())
    if cached["ids"] != [e.id for e in evaluation]:
        return None
    return cached["probs"], cached["seconds"]


def stage_evaluate(ctx: StageContext) -> dict[str, Any]:
    task = ctx.task()
    evaluation = ctx.read_examples("prepare", "eval.jsonl")
    gold = [e.label for e in evaluation]
    batch = ctx.config.evaluate.batch_size
    methods: dict[str, dict[str, Any]] = {}
    predictions: dict[str, list[list[float]]] = {}
    teacher_params = None
    for method in ctx.config.evaluate.methods:
        cached = _teacher_eval(ctx, evaluation) if method == "teacher" else None
        if method == "teacher":
            # With the teacher's eval scores cached, its parameter count is all
            # we need: the manifest has it, so the LLM is not loaded again.
            params = ctx.pipeline.manifest()["stages"]["teacher"]["counts"].get("params")
            model = _Counted(params) if cached and params is not None else None
            if model is None:
                cached = None
                model = ctx.load("teacher", "teacher", "teacher")
            predict = model.predict_proba if cached is None else None
        else:
            model = ctx.load("train", method, "student")
            if method == "retrikt_student":
                # A student that learned to retrieve searches its own keys.
                retriever = model.own_retriever() or build_retriever(ctx)

                retrieved: list[list[str]] = []  # neighbour ids, for the by-source breakdown

                def predict(xs, model=model, retriever=retriever, retrieved=retrieved):
                    found = retriever.retrieve(xs)
                    retrieved.extend(found.ids)
                    return model.predict_proba(xs, found)
            else:
                predict = model.predict_proba
        if cached is not None:
            probs, seconds = cached
        else:
            probs, seconds = timed_predict(predict, evaluation, batch, method)
        predictions[method] = probs
        row = classification_metrics(probs, gold, task.num_labels)
        row["params"] = model.num_parameters()
        if method == "retrikt_student":
            # The query encoder runs at inference: it counts. The store is data:
            # its size is reported beside the count, never inside it.
            stores = retriever.stores
            row["params"] += sum(s.query_encoder_parameters() for s in stores)
            index_counts = ctx.pipeline.manifest()["stages"]["index"]["counts"]
            row["store_entries"] = index_counts["entries"]  # two stores share entries
            row["store_bytes"] = index_counts["bytes"]
            sources = {k.id: k.source for k in ctx.read_knowledge()}
            if len(set(sources.values())) > 1:
                # Which source's entries were retrieved, and how the student
                # fares where each source led.
                row["by_source"] = neighbour_sources(retrieved, sources, probs, gold)
        row["examples_per_s"] = len(evaluation) / seconds if seconds > 0 else float("inf")
        row["seconds"] = seconds
        methods[method] = row
        if method == "teacher":
            teacher_params = row["params"]
    if teacher_params is None and "teacher" in ctx.pipeline.finished_stages():
        teacher_params = ctx.pipeline.manifest()["stages"]["teacher"]["counts"].get("params")
    teacher_speed = methods.get("teacher", {}).get("examples_per_s")
    for method, row in methods.items():
        if teacher_params:
            row["params_ratio_to_teacher"] = row["params"] / teacher_params
        if teacher_speed and method != "teacher":
            row["speedup_vs_teacher"] = row["examples_per_s"] / teacher_speed
    with open(ctx.out / "predictions.jsonl", "w", encoding="utf-8") as handle:
        for i, example in enumerate(evaluation):
            row = {"id": example.id, "label": example.label}
            row.update({m: predictions[m][i] for m in predictions})
            handle.write(json.dumps(row) + "\n")
    metrics = {
        "task": task.name,
        "config_hash": ctx.config.config_hash(),
        "label_names": task.label_names,
        "eval_split": task.eval_split,
        "eval_examples": len(evaluation),
        "methods": methods,
    }
    atomic_write_json(ctx.out / "metrics.json", metrics, sort_keys=False)
    return {m: round(r["accuracy"], 4) for m, r in methods.items()}
