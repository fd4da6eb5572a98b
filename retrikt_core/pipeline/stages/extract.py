"""``extract``: gather knowledge from the sources, filter it, and label it with the teacher."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_text
from retrikt_core.config import ConfigError, RunConfig, stable_hash
from retrikt_core.execution import Executor, ShardFolder, run_sharded
from retrikt_core.interfaces import Component, KnowledgeGenerator, Task
from retrikt_core.knowledge import filter_knowledge, plan_requests
from retrikt_core.pipeline.digests import output_digest
from retrikt_core.pipeline.stage import SOURCE_SECTIONS, StageContext
from retrikt_core.pipeline.work import GenerateWork, LabelWork, chunk_rows, entries_of
from retrikt_core.plugins import Plugins
from retrikt_core.records import Knowledge, dump_jsonl


def requests(config: RunConfig, task: Task, plugins: Plugins) -> list[tuple[str, int | None, int]]:
    """What ``extract`` asks of each source: ``(section, label or None, n)``."""
    sources = [
        (s, plugins.registry.get("generator", config.plugin(s)).conditional)
        for s in SOURCE_SECTIONS
        if config.has(s)
    ]
    o = config.extract
    return plan_requests(o.n_per_label, o.n_total, task.num_labels, sources, o.second_source_share)


# Provenance key: the digest of the teacher (saved bytes and plugin release)
# whose distribution an entry carries.
LABELLED_BY = "labelled_by"


def labelled_by(entry: Knowledge, teacher_id: str) -> bool:
    """Whether ``entry`` carries a distribution that the teacher ``teacher_id`` made."""
    return bool(entry.teacher_probs) and entry.provenance.get(LABELLED_BY) == teacher_id


def teacher_labels(
    teacher: Component,
    entries: list[Knowledge],
    teacher_id: str,
    batch_size: int,
    *,
    executor: Executor,
    shards_dir: Path,
    teacher_dir: str = "",
) -> list[tuple[float, ...]]:
    """The teacher's distribution for each entry, in order.

    An entry that already carries labels from this very teacher (same saved
    bytes: a store mixed from finished runs' knowledge) keeps them. The rest
    are labelled shortest first, so a batch pads little: on long premises a
    batch in arrival order is padded to its longest member. They are cut into
    shards (a whole number of batches each, so a batch is the same whatever
    runs it) that ``executor`` labels (its workers load the teacher saved at
    ``teacher_dir``); finished shards are kept in ``shards_dir`` and a rerun
    of a stage cut short labels only the others.
    """
    probs: list[tuple[float, ...] | None] = [
        e.teacher_probs if labelled_by(e, teacher_id) else None for e in entries
    ]
    todo = sorted(
        (i for i, p in enumerate(probs) if p is None),
        key=lambda i: len(entries[i].text) + len(entries[i].text_pair or ""),
    )
    rows = [{"text": entries[i].text, "text_pair": entries[i].text_pair} for i in todo]
    shard_rows = -(-executor.shard_rows // batch_size) * batch_size
    key = stable_hash([teacher_id, rows, shard_rows, batch_size])
    folder = ShardFolder(shards_dir, key)
    work = LabelWork(teacher_dir, batch_size, teacher)
    labelled = run_sharded(executor, work, rows, shard_rows, folder, "extract: teacher labels")
    for i, row in zip(todo, labelled, strict=True):
        probs[i] = tuple(float(p) for p in row)
    return probs  # type: ignore[return-value]


# The stage that saved each source as ``extract`` reads it: the generator
# after RL, a second source as tuned.
_SAVED_BY = {"generator": "reinforce", "second_source": "tune"}


def gather(
    ctx: StageContext,
    sources: dict[str, KnowledgeGenerator],
    asked: list[tuple[str, int | None, int]],
) -> list[Knowledge]:
    """The sources' entries for each request, in request order.

    Requests to generators that sample independently (``seeded_chunks``) are
    cut into seeded chunks that the run's executor draws, each finished shard
    of chunks saved as it arrives; the others (a corpus) are asked here.
    """
    o = ctx.config.extract
    parts: list[list[Knowledge] | range] = []
    rows: list[dict[str, Any]] = []
    for section, label, n in asked:
        offset = 0 if label is None else label
        offset += 1000 if section == "second_source" else 0
        if sources[section].seeded_chunks:
            chunks = chunk_rows(section, label, n, ctx.seed + offset, o.generation_chunk)
            parts.append(range(len(rows), len(rows) + len(chunks)))
            rows += chunks
        else:
            parts.append(sources[section].generate(label, n, seed=ctx.seed + offset))
    drawn: list[Any] = []
    if rows:
        chunked = {row["section"] for row in rows}
        dirs = {s: ctx.stage_dir(_SAVED_BY[s]) / s for s in chunked}
        saved = {s: [output_digest(d), ctx.pipeline.component_version(s)] for s, d in dirs.items()}
        # One chunk a shard, whatever the executor: a run resumed on another
        # executor keeps every chunk already drawn.
        folder = ShardFolder(
            ctx.rundir.shards("extract") / "generation", stable_hash([rows, saved])
        )
        work = GenerateWork({s: str(d) for s, d in dirs.items()}, {s: sources[s] for s in chunked})
        executor = ctx.pipeline.executor()
        drawn = run_sharded(executor, work, rows, 1, folder, "extract: generation")
    raw: list[Knowledge] = []
    for part in parts:
        raw += entries_of([drawn[i] for i in part]) if isinstance(part, range) else part
    return raw


def stage_extract(ctx: StageContext) -> dict[str, Any]:
    o = ctx.config.extract
    task = ctx.task()
    # The RL-refined generator; a second source is used as tuned.
    sources = {"generator": ctx.load("reinforce", "generator", "generator")}
    if ctx.config.has("second_source"):
        sources["second_source"] = ctx.load("tune", "second_source", "generator")
    raw = gather(ctx, sources, requests(ctx.config, task, ctx.pipeline.plugins))
    report = filter_knowledge(
        raw,
        ctx.read_examples("prepare", "eval.jsonl"),
        min_words=o.min_words,
        max_words=o.max_words,
        drop_duplicates=o.drop_duplicates,
        drop_eval_overlap=o.drop_eval_overlap,
        is_pair=task.is_pair,
        near_duplicate=o.eval_near_duplicate,
    )
    if raw and not report.kept:
        # An empty store is allowed when none is asked for; when every entry
        # drawn is filtered out, the retrieving student would silently be the
        # k-shot one.
        dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(report.dropped.items()))
        raise ConfigError(
            f"extract: the filters dropped all {len(raw)} entries drawn ({dropped}); loosen "
            "extract.min_words / extract.max_words or the duplicate filters"
        )
    teacher = ctx.load("teacher", "teacher", "teacher")
    # The saved teacher and the release of the plugin that computes with it.
    teacher_id = stable_hash(
        [
            output_digest(ctx.stage_dir("teacher") / "teacher"),
            ctx.pipeline.component_version("teacher"),
        ]
    )
    probs = teacher_labels(
        teacher,
        report.kept,
        teacher_id,
        o.teacher_batch_size,
        executor=ctx.pipeline.executor(),
        shards_dir=ctx.pipeline.rundir.shards("extract") / "labels",
        teacher_dir=str(ctx.stage_dir("teacher") / "teacher"),
    )
    labelled = [
        replace(
            entry,
            teacher_probs=row,
            provenance={**entry.provenance, LABELLED_BY: teacher_id},
            id=f"kn-{i:07d}",
        )
        for i, (entry, row) in enumerate(zip(report.kept, probs, strict=True))
    ]
    atomic_write_text(ctx.out / "knowledge.jsonl", dump_jsonl(labelled))
    by_label = Counter(task.label_names[k.teacher_label] for k in labelled)
    counts: dict[str, Any] = {
        "generated": len(raw),
        "kept": len(labelled),
        **{f"dropped_{reason}": n for reason, n in sorted(report.dropped.items())},
        "by_source": dict(Counter(k.source for k in labelled)),
        "by_teacher_label": dict(sorted(by_label.items())),
    }
    reused = sum(labelled_by(e, teacher_id) for e in report.kept)
    if reused:
        counts["labels_reused"] = reused
    requested = [k for k in labelled if k.requested_label is not None]
    if requested:
        agree = sum(k.teacher_label == k.requested_label for k in requested)
        counts["label_consistency"] = agree / len(requested)
    return counts
