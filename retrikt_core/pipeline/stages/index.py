"""``index``: build the knowledge store(s) over the extracted knowledge."""

from __future__ import annotations

from typing import Any

from retrikt_core.interfaces import Component
from retrikt_core.pipeline.rundir import STORE_SECTIONS
from retrikt_core.pipeline.stage import StageContext


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
    return [ctx.load("index", section, "store") for section, _ in ctx.rundir.store_dirs()]


def build_retriever(ctx: StageContext):
    retriever = ctx.build("retriever")
    retriever.bind(load_stores(ctx))
    return retriever
