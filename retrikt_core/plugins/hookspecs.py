"""pluggy hook specifications.

Component hooks follow ``llm``'s style: each receives a ``register`` callable
and calls it once per component class it provides::

    from retrikt_core import hookimpl

    @hookimpl
    def register_teachers(register):
        register(MyTeacher)

Lifecycle hooks let a plugin log or track a run without touching the pipeline.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("retrikt")
hookimpl = pluggy.HookimplMarker("retrikt")


@hookspec
def register_tasks(register) -> None:
    """Register Task classes (where labelled examples come from)."""


@hookspec
def register_generators(register) -> None:
    """Register KnowledgeGenerator classes (LLM writers, unlabelled corpora)."""


@hookspec
def register_teachers(register) -> None:
    """Register Teacher classes (models that label knowledge)."""


@hookspec
def register_optimizers(register) -> None:
    """Register RLOptimizer classes (improve a generator's policy)."""


@hookspec
def register_stores(register) -> None:
    """Register KnowledgeStore classes (hold and search knowledge)."""


@hookspec
def register_retrievers(register) -> None:
    """Register Retriever classes (query policies over one or more stores)."""


@hookspec
def register_students(register) -> None:
    """Register Student classes (the tiny models that retrieve)."""


@hookspec
def register_reward_terms(register) -> None:
    """Register RewardTerm classes used to score generations during RL."""


@hookspec
def register_executors(register) -> None:
    """Register Executor classes (what runs a stage's sharded work: in this
    process, on Ray, ...)."""


@hookspec
def register_commands(cli) -> None:
    """Add commands to the ``retrikt`` Typer app."""


@hookspec
def stage_started(stage: str, run_dir: str, config: dict[str, Any]) -> None:
    """Called when a pipeline stage starts running (not when it is skipped)."""


@hookspec
def stage_finished(stage: str, run_dir: str, record: dict[str, Any]) -> None:
    """Called after a stage's artifacts are committed; ``record`` is its manifest entry."""


@hookspec
def run_finished(run_dir: str, metrics: dict[str, Any]) -> None:
    """Called once ``metrics.json`` and ``report.md`` are written."""
