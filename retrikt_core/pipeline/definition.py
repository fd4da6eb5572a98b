"""The stages of a run, in order: what each reads (config sections, upstream
stages, other inputs such as data files) and the function that runs it.
Defining the pipeline here is separate from running it (:mod:`.runner`)."""

from __future__ import annotations

from retrikt_core.pipeline.rundir import STORE_SECTIONS
from retrikt_core.pipeline.stage import SOURCE_SECTIONS, Stage
from retrikt_core.pipeline.stages.evaluate import stage_evaluate
from retrikt_core.pipeline.stages.extract import stage_extract
from retrikt_core.pipeline.stages.index import stage_index
from retrikt_core.pipeline.stages.prepare import stage_prepare
from retrikt_core.pipeline.stages.reinforce import stage_reinforce
from retrikt_core.pipeline.stages.teacher import stage_teacher
from retrikt_core.pipeline.stages.train import stage_train
from retrikt_core.pipeline.stages.tune import stage_tune

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
        ("student", "retriever", "baseline"),
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
