"""The staged pipeline and its resumable run directory.

Each stage writes into ``RUN_DIR/stages/<stage>.partial/`` and, once done,
that directory is renamed to ``RUN_DIR/stages/<stage>/`` and the stage is
recorded in ``RUN_DIR/manifest.json`` (both atomically). A stage's key hashes
the config sections it reads and the outputs of the stages it reads from, so a
rerun skips finished stages whose inputs did not change and redoes those whose
inputs did. An interrupted stage leaves only its ``.partial`` directory,
which the next run removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text, commit_directory
from retrikt_core.config import ConfigError, RunConfig, section_kind, stable_hash
from retrikt_core.interfaces import Component, Task, Teacher, read_component_meta
from retrikt_core.knowledge import filter_knowledge, plan_requests
from retrikt_core.metrics import classification_metrics
from retrikt_core.plugins import Plugins
from retrikt_core.progress import track
from retrikt_core.records import Example, Knowledge, dump_jsonl
from retrikt_core.rewards import build_reward
from retrikt_core.storefiles import sha256_file

MANIFEST = "manifest.json"
STUDENT_METHODS = ("kshot_student", "kd_student", "retrikt_student")


class PipelineError(RuntimeError):
    """A run that cannot go on (a missing upstream stage, a locked run dir, ...)."""


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]
    needs: tuple[str, ...]
    run: Callable[[StageContext], dict[str, Any]]
    description: str
    # Key inputs that are not whole config sections (data files, chosen methods).
    extra: Callable[[Pipeline], Any] | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and (if already imported) torch, for CPU determinism."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


class StageContext:
    """What a stage function gets: the config, the plugins, where to write, and
    how to read what earlier stages wrote."""

    def __init__(self, pipeline: Pipeline, stage: Stage, out: Path) -> None:
        self.pipeline = pipeline
        self.stage = stage
        self.out = out
        self.config = pipeline.config
        self.seed = int(stable_hash([pipeline.config.run.seed, stage.name]), 16) % 2**31

    def build(self, section: str) -> Component:
        """A fresh component for a config section, with its validated options."""
        name, options = self.config.components[section]
        return self.pipeline.plugins.registry.get(section_kind(section), name)(options)

    def task(self) -> Task:
        return self.pipeline.task

    def stage_dir(self, stage: str) -> Path:
        return self.pipeline.run_dir / "stages" / stage

    def load(self, stage: str, subdir: str, kind: str) -> Component:
        """A component that an earlier stage saved with ``save_pretrained``."""
        path = self.stage_dir(stage) / subdir
        meta = read_component_meta(path)
        cls = self.pipeline.plugins.registry.get(kind, meta["name"])
        return cls.from_pretrained(path)

    def read_examples(self, stage: str, name: str) -> list[Example]:
        lines = (self.stage_dir(stage) / name).read_text(encoding="utf-8").splitlines()
        return [Example.from_dict(json.loads(line)) for line in lines if line]

    def read_knowledge(self) -> list[Knowledge]:
        lines = (self.stage_dir("extract") / "knowledge.jsonl").read_text("utf-8").splitlines()
        return [Knowledge.from_dict(json.loads(line)) for line in lines if line]


# --- stages -----------------------------------------------------------------


def stage_prepare(ctx: StageContext) -> dict[str, Any]:
    task = ctx.task()
    train = task.load(task.train_split)
    kshot = task.sample_k_shot(train, task.k_shot, ctx.config.run.seed)
    from retrikt_core.tasks import sample_eval

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
    return {"train": len(train), "kshot": len(kshot), "eval": len(evaluation)}


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
        probs, seconds = _timed_predict(
            teacher.predict_proba, evaluation, ctx.config.evaluate.batch_size, "teacher: eval"
        )
        atomic_write_json(
            ctx.out / TEACHER_EVAL,
            {"ids": [e.id for e in evaluation], "probs": probs, "seconds": seconds},
        )
    return {"params": teacher.num_parameters(), **stats}


SOURCE_SECTIONS = ("generator", "second_source")


def stage_tune(ctx: StageContext) -> dict[str, Any]:
    kshot = ctx.read_examples("prepare", "kshot.jsonl")
    counts: dict[str, Any] = {}
    for section in SOURCE_SECTIONS:
        if not ctx.config.has(section):
            continue
        source = ctx.build(section)
        stats = source.fit(ctx.task(), kshot, seed=ctx.seed)
        source.save_pretrained(ctx.out / section)
        counts.update(stats if section == "generator" else {section: dict(stats)})
    return counts


def requests(config: RunConfig, task: Task, plugins: Plugins) -> list[tuple[str, int | None, int]]:
    """What ``extract`` asks of each source: ``(section, label or None, n)``."""
    sources = [
        (s, plugins.registry.get("generator", config.plugin(s)).conditional)
        for s in SOURCE_SECTIONS
        if config.has(s)
    ]
    o = config.extract
    return plan_requests(o.n_per_label, o.n_total, task.num_labels, sources, o.second_source_share)


def stage_reinforce(ctx: StageContext) -> dict[str, Any]:
    generator = ctx.load("tune", "generator", "generator")
    optimizer = ctx.build("optimizer")
    reward = None
    if generator.conditional and optimizer.name != "none":
        teacher = ctx.load("teacher", "teacher", "teacher")
        reward = build_reward(ctx.config.reward, ctx.pipeline.plugins.registry, teacher, ctx.task())
    history = optimizer.optimize(generator, reward, task=ctx.task(), seed=ctx.seed)
    generator.save_pretrained(ctx.out / "generator")
    atomic_write_text(ctx.out / "history.jsonl", dump_jsonl(history))
    counts: dict[str, Any] = {"steps": len(history)}
    if history:
        counts.update({f"last_{k}": v for k, v in history[-1].items() if isinstance(v, float)})
    return counts


# Provenance key: the digest of the teacher (saved bytes and plugin release)
# whose distribution an entry carries.
LABELLED_BY = "labelled_by"


def labelled_by(entry: Knowledge, teacher_id: str) -> bool:
    """Whether ``entry`` carries a distribution that the teacher ``teacher_id`` made."""
    return bool(entry.teacher_probs) and entry.provenance.get(LABELLED_BY) == teacher_id


def teacher_labels(
    teacher: Component, entries: list[Knowledge], teacher_id: str, batch_size: int
) -> list[tuple[float, ...]]:
    """The teacher's distribution for each entry, in order.

    An entry that already carries labels from this very teacher (same saved
    bytes: a store mixed from finished runs' knowledge) keeps them. The rest
    are labelled shortest first, so a batch pads little: on long premises a
    batch in arrival order is padded to its longest member.
    """
    probs: list[tuple[float, ...] | None] = [
        e.teacher_probs if labelled_by(e, teacher_id) else None for e in entries
    ]
    todo = sorted(
        (i for i, p in enumerate(probs) if p is None),
        key=lambda i: len(entries[i].text) + len(entries[i].text_pair or ""),
    )
    batches = range(0, len(todo), batch_size)
    for start in track(batches, "extract: teacher labels", total=len(batches)):
        chunk = todo[start : start + batch_size]
        rows = teacher.predict_proba([entries[i].example for i in chunk])
        for i, row in zip(chunk, rows, strict=True):
            probs[i] = tuple(float(p) for p in row)
    return probs  # type: ignore[return-value]


def stage_extract(ctx: StageContext) -> dict[str, Any]:
    o = ctx.config.extract
    task = ctx.task()
    # The RL-refined generator; a second source is used as tuned.
    sources = {"generator": ctx.load("reinforce", "generator", "generator")}
    if ctx.config.has("second_source"):
        sources["second_source"] = ctx.load("tune", "second_source", "generator")
    raw: list[Knowledge] = []
    for section, label, n in requests(ctx.config, task, ctx.pipeline.plugins):
        offset = 0 if label is None else label
        offset += 1000 if section == "second_source" else 0
        raw += sources[section].generate(label, n, seed=ctx.seed + offset)
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
    teacher = ctx.load("teacher", "teacher", "teacher")
    # The saved teacher and the release of the plugin that computes with it.
    teacher_id = stable_hash(
        [
            _output_digest(ctx.stage_dir("teacher") / "teacher"),
            ctx.pipeline.component_version("teacher"),
        ]
    )
    probs = teacher_labels(teacher, report.kept, teacher_id, o.teacher_batch_size)
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


STORE_SECTIONS = ("store", "second_store")


def stage_index(ctx: StageContext) -> dict[str, Any]:
    knowledge = ctx.read_knowledge()
    counts: dict[str, Any] = {"entries": len(knowledge), "bytes": 0}
    for section in STORE_SECTIONS:
        if not ctx.config.has(section):
            continue
        store = ctx.build(section)
        store.add(knowledge)
        store.save_pretrained(ctx.out / section)
        size = sum(p.stat().st_size for p in (ctx.out / section).rglob("*") if p.is_file())
        counts["bytes"] += size
        if section != "store":
            counts[section] = {"plugin": ctx.config.plugin(section), "bytes": size}
    return counts


def load_stores(ctx: StageContext) -> list[Component]:
    """The run's stores, in config order (``store`` first)."""
    return [
        ctx.load("index", section, "store")
        for section in STORE_SECTIONS
        if (ctx.stage_dir("index") / section).is_dir()
    ]


def build_retriever(ctx: StageContext):
    retriever = ctx.build("retriever")
    retriever.bind(load_stores(ctx))
    return retriever


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
    uses_knowledge = any(m != "kshot_student" for m in wanted)
    if knowledge and uses_knowledge and ctx.build("student").wants_teacher_states():
        states = teacher_states(ctx.load("teacher", "teacher", "teacher"), knowledge)
        counts["teacher_states"] = list(states.shape)
    for method in wanted:
        student = ctx.build("student")
        retriever = build_retriever(ctx) if method == "retrikt_student" else None
        data = [] if method == "kshot_student" else knowledge
        extra = {"teacher_states": states} if states is not None and data else {}
        stats = student.fit(task, kshot, data, retriever, seed=ctx.seed, **extra)
        student.save_pretrained(ctx.out / method)
        counts[method] = {"params": student.num_parameters(), **stats}
    return counts


def _timed_predict(
    predict: Callable[[list[Example]], list[list[float]]],
    examples: list[Example],
    batch_size: int,
    label: str,
):
    probs: list[list[float]] = []
    start = time.perf_counter()
    batches = range(0, len(examples), batch_size)
    for i in track(batches, f"evaluate: {label}", total=len(batches)):
        probs += predict(examples[i : i + batch_size])
    seconds = time.perf_counter() - start
    return probs, seconds


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
                retriever = build_retriever(ctx)

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
            probs, seconds = _timed_predict(predict, evaluation, batch, method)
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


STAGES: tuple[Stage, ...] = (
    Stage(
        "prepare",
        ("task",),
        (),
        stage_prepare,
        "load the task, sample k-shot",
        extra=lambda p: p.task.fingerprint(),
    ),
    Stage(
        "teacher",
        ("teacher",),
        ("prepare",),
        stage_teacher,
        "fit the teacher, score the eval split",
        extra=lambda p: ["teacher" in p.config.evaluate.methods, p.config.evaluate.batch_size],
    ),
    Stage(
        "tune",
        SOURCE_SECTIONS,
        ("prepare",),
        stage_tune,
        "supervised soft-prompt tuning (and a second source's fit)",
        extra=lambda p: p.source_fingerprints(),
    ),
    Stage(
        "reinforce",
        ("optimizer", "reward"),
        ("tune", "teacher"),
        stage_reinforce,
        "RL on the policy",
    ),
    Stage(
        "extract",
        ("extract",),
        ("reinforce", "teacher", "prepare"),
        stage_extract,
        "gather, filter and teacher-label knowledge",
    ),
    Stage("index", STORE_SECTIONS, ("extract",), stage_index, "build the knowledge store(s)"),
    Stage(
        "train",
        ("student", "retriever"),
        ("index", "extract", "prepare", "teacher"),
        stage_train,
        "train the students",
        extra=lambda p: p.config.evaluate.methods,
    ),
    Stage(
        "evaluate",
        ("evaluate", "retriever"),
        ("train", "teacher", "index", "prepare"),
        stage_evaluate,
        "compare methods on the eval split",
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


class Pipeline:
    """Runs the stages of a validated config in a run directory."""

    def __init__(
        self,
        config: RunConfig,
        plugins: Plugins,
        run_dir: str | Path,
        echo: Callable[[str], None] | None = None,
        stage_cache: Any = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.run_dir = Path(run_dir)
        self.echo = echo or (lambda message: None)
        # A retrikt_core.bench.StageCache: finished stages shared between runs, by key.
        self.stage_cache = stage_cache
        name, options = config.components["task"]
        self.task: Task = plugins.registry.get("task", name)(options)

    # --- manifest -------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        path = self.run_dir / MANIFEST
        if path.is_file():
            return json.loads(path.read_text())
        return {"stages": {}}

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        # Stages keep pipeline order, so the file reads top to bottom.
        atomic_write_json(self.run_dir / MANIFEST, manifest, sort_keys=False)

    def finished_stages(self) -> set[str]:
        stages = self.manifest()["stages"]
        return {
            name
            for name, record in stages.items()
            if record.get("status") == "finished" and (self.run_dir / "stages" / name).is_dir()
        }

    def stage_key(self, stage: Stage, manifest: dict[str, Any]) -> str:
        inputs: dict[str, Any] = {s: self.config.section_dict(s) for s in stage.sections}
        inputs["seed"] = self.config.run.seed
        # Upstream *outputs* (not just keys): a forced rerun upstream invalidates us.
        inputs["needs"] = {n: manifest["stages"].get(n, {}).get("output_id") for n in stage.needs}
        # A new release of the plugin behind a component may compute differently.
        inputs["versions"] = {
            s: self.component_version(s) for s in stage.sections if s in self.config.components
        }
        extra = stage.extra(self) if stage.extra is not None else None
        if extra is not None:  # None adds nothing, so keys made before an extra stay
            inputs["extra"] = extra
        return stable_hash(inputs)

    def source_fingerprints(self) -> dict[str, Any] | None:
        """What the knowledge sources read from files, or None if nothing."""
        prints = {}
        for section in SOURCE_SECTIONS:
            if self.config.has(section):
                name, options = self.config.components[section]
                found = self.plugins.registry.get("generator", name)(options).fingerprint()
                if found is not None:
                    prints[section] = found
        return prints or None

    def component_version(self, section: str) -> str:
        """`package==version` of the plugin behind ``section``: a new release may
        compute differently, so stage keys and label provenance include it."""
        entry = self.plugins.registry.entry(section_kind(section), self.config.plugin(section))
        info = self.plugins.infos.get(entry.plugin)
        return f"{entry.package}=={info.version if info else 'unknown'}"

    # --- running --------------------------------------------------------------
    def check(self) -> None:
        """Checks that need no model: the task's files and fields, and that each
        knowledge source can give what extract will ask of it."""
        check = getattr(self.task, "check", None)
        if check is not None:
            check()
        asked: dict[str, int] = {}
        for section, _, n in requests(self.config, self.task, self.plugins):
            asked[section] = asked.get(section, 0) + n
        self._check_teacher_states()
        for section in SOURCE_SECTIONS:
            if not self.config.has(section):
                continue
            name, options = self.config.components[section]
            source = self.plugins.registry.get("generator", name)(options)
            try:
                # A source asked for nothing is still fitted and fingerprinted.
                source.check(self.task, asked.get(section, 0))
                source.fingerprint()
            except ConfigError as exc:
                # Sources name their options as `generator.*`; say which section.
                message = str(exc)
                if section != "generator" and message.startswith("generator."):
                    message = section + message[len("generator") :]
                raise ConfigError(message) from None

    def _check_teacher_states(self) -> None:
        """A student that matches hidden states needs a teacher that has them."""
        name, options = self.config.components["student"]
        if not self.plugins.registry.get("student", name)(options).wants_teacher_states():
            return
        teacher_name, _ = self.config.components["teacher"]
        teacher_cls = self.plugins.registry.get("teacher", teacher_name)
        if teacher_cls.embed is Teacher.embed:
            raise ConfigError(
                f"student.hidden_weight: student {name!r} matches the teacher's hidden "
                f"states, but teacher {teacher_name!r} has none (it does not implement "
                "embed); set hidden_weight = 0"
            )

    def run(self, from_stage: str | None = None, until_stage: str | None = None) -> dict | None:
        for flag, value in (("--from", from_stage), ("--until", until_stage)):
            if value is not None and value not in STAGE_NAMES:
                raise ConfigError(
                    f"{flag} {value!r}: unknown stage; stages: {', '.join(STAGE_NAMES)}"
                )
        first = STAGE_NAMES.index(from_stage) if from_stage else 0
        last = STAGE_NAMES.index(until_stage) if until_stage else len(STAGES) - 1
        if first > last:
            raise ConfigError(f"--from {from_stage} comes after --until {until_stage}")
        self.check()
        (self.run_dir / "stages").mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._clean_partials()
            self._write_config()
            for index, stage in enumerate(STAGES[: last + 1]):
                self._run_stage(stage, force=index >= first and from_stage is not None)
            if last == len(STAGES) - 1:
                return self._finish()
        return None

    def _run_stage(self, stage: Stage, force: bool) -> None:
        manifest = self.manifest()
        key = self.stage_key(stage, manifest)
        record = manifest["stages"].get(stage.name, {})
        final = self.run_dir / "stages" / stage.name
        if (
            not force
            and record.get("status") == "finished"
            and record.get("key") == key
            and final.is_dir()
        ):
            self.echo(f"[dim]↷ {stage.name:<9} unchanged, skipped[/dim]")
            if self.stage_cache is not None:
                self.stage_cache.put(stage.name, key, final, record, self.run_dir)
            return
        reused = None
        if not force and self.stage_cache is not None:
            reused = self.stage_cache.fetch(stage.name, key, final)
        if reused is not None:
            # Same key, so the same output: the record (output_id included) comes
            # along, and downstream keys match those of the run that computed it.
            manifest["stages"][stage.name] = reused
            self._write_manifest(manifest)
            self.echo(f"[cyan]⇉ {stage.name:<9} reused from {reused['reused_from']}[/cyan]")
            return
        seed_everything(int(stable_hash([self.config.run.seed, stage.name]), 16) % 2**31)
        partial = final.with_name(stage.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        started = time.perf_counter()
        cpu_started = time.process_time()
        manifest["stages"][stage.name] = {"status": "running", "key": key, "started_at": _now()}
        self._write_manifest(manifest)
        self.plugins.hook.stage_started(
            stage=stage.name, run_dir=str(self.run_dir), config=self.config.to_dict()
        )
        self.echo(f"▶ {stage.name:<9} {stage.description}")
        try:
            counts = stage.run(StageContext(self, stage, partial))
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            shutil.rmtree(partial, ignore_errors=True)
            manifest = self.manifest()
            manifest["stages"][stage.name].update(
                status=status, error=f"{type(exc).__name__}: {exc}", ended_at=_now()
            )
            self._write_manifest(manifest)
            raise
        seconds = time.perf_counter() - started
        output_id = uuid.uuid4().hex[:12]
        previous = record  # the record before this run (still the finished one, if any)
        if (
            previous.get("status") == "finished"
            and previous.get("output_id")
            and final.is_dir()
            and _output_digest(partial) == _output_digest(final)
        ):
            # Byte-identical outputs keep their id, so downstream keys still match
            # (early cut-off: re-preparing unchanged data does not retune the LLM).
            output_id = previous["output_id"]
        commit_directory(partial, final)
        record = {
            "status": "finished",
            "key": key,
            "config_hash": self.config.section_hash(*stage.sections),
            "output_id": output_id,
            "started_at": manifest["stages"][stage.name]["started_at"],
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu_started, 3),
            "counts": counts,
        }
        manifest = self.manifest()
        manifest["stages"][stage.name] = record
        # Downstream stages now read other inputs; their records stay until they rerun.
        self._write_manifest(manifest)
        if self.stage_cache is not None:
            self.stage_cache.put(stage.name, key, final, record, self.run_dir)
        self.plugins.hook.stage_finished(stage=stage.name, run_dir=str(self.run_dir), record=record)
        summary = ", ".join(f"{k}={_short(v)}" for k, v in counts.items())
        self.echo(f"[green]✓ {stage.name:<9}[/green] {seconds:6.1f}s  {summary}")

    def _finish(self) -> dict[str, Any]:
        from retrikt_core.report import write_report

        metrics = json.loads((self.run_dir / "stages" / "evaluate" / "metrics.json").read_text())
        atomic_write_json(self.run_dir / "metrics.json", metrics, sort_keys=False)
        write_report(self.run_dir, metrics, self.manifest(), self.config)
        self.plugins.hook.run_finished(run_dir=str(self.run_dir), metrics=metrics)
        return metrics

    def _write_config(self) -> None:
        manifest = self.manifest()
        manifest["config_hash"] = self.config.config_hash()
        manifest["task"] = self.task.name
        manifest["retrikt_version"] = _version()
        self._write_manifest(manifest)
        atomic_write_json(self.run_dir / "config.json", self.config.to_dict())
        if self.config.source and Path(self.config.source).is_file():
            atomic_write_text(self.run_dir / "config.toml", Path(self.config.source).read_text())

    def _clean_partials(self) -> None:
        for partial in (self.run_dir / "stages").glob("*.partial"):
            shutil.rmtree(partial, ignore_errors=True)

    def _lock(self):
        return _RunLock(self.run_dir / ".lock")


def _output_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of every file under ``folder``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(file).encode("ascii"))
    return digest.hexdigest()


class _RunLock:
    """An advisory lock so two processes never write one run directory at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _RunLock:
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise PipelineError(
                f"{self.path.parent}: another retrikt process is using this run directory"
            ) from None
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def _version() -> str:
    from retrikt_core import __version__

    return __version__
