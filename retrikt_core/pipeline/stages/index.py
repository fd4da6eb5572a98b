"""``index``: build the knowledge store(s) over the extracted knowledge."""

from __future__ import annotations

from typing import Any

from retrikt_core.config import stable_hash
from retrikt_core.execution import ShardFolder, run_sharded
from retrikt_core.interfaces import Component, KnowledgeStore
from retrikt_core.pipeline.rundir import STORE_SECTIONS
from retrikt_core.pipeline.stage import StageContext
from retrikt_core.pipeline.work import KeyWork
from retrikt_core.records import Knowledge
from retrikt_core.storekit import keys_from_text


def stage_index(ctx: StageContext) -> dict[str, Any]:
    knowledge = ctx.read_knowledge()
    counts: dict[str, Any] = {"entries": len(knowledge), "bytes": 0}
    for section in STORE_SECTIONS:
        if not ctx.config.has(section):
            continue
        store = ctx.build(section)
        if store.dense_keys and store.costly_keys and knowledge:
            store.add_encoded(knowledge, encode_keys(ctx, section, store, knowledge))
        else:
            store.add(knowledge)
        store.save_pretrained(ctx.out / section)
        size = sum(p.stat().st_size for p in (ctx.out / section).rglob("*") if p.is_file())
        counts["bytes"] += size
        if section != "store":
            counts[section] = {"plugin": ctx.config.plugin(section), "bytes": size}
    return counts


def encode_keys(
    ctx: StageContext, section: str, store: KnowledgeStore, knowledge: list[Knowledge]
) -> Any:
    """The store's keys for every entry, encoded in shards on the run's
    executor (workers build the same store and run its encoder); finished
    shards are kept, so a stage cut short encodes only the rest. Shards hold
    whole encoder batches, so the keys are those of one ``store.add``."""
    rows = [{"text": e.text, "text_pair": e.text_pair} for e in knowledge]
    executor = ctx.pipeline.executor()
    shard_rows = -(-executor.shard_rows // store.key_batch) * store.key_batch
    plugin, options = ctx.config.components[section]
    key = stable_hash(
        [
            rows,
            shard_rows,
            ctx.config.section_dict(section),
            ctx.pipeline.component_version(section),
        ]
    )
    folder = ShardFolder(ctx.rundir.shards("index") / section, key)
    work = KeyWork(plugin, options, store)
    text = run_sharded(executor, work, rows, shard_rows, folder, f"index: {section} keys")
    return keys_from_text(text)


def load_stores(ctx: StageContext) -> list[Component]:
    """The run's stores, in config order (``store`` first)."""
    return [ctx.load("index", section, "store") for section, _ in ctx.rundir.store_dirs()]


def build_retriever(ctx: StageContext):
    retriever = ctx.build("retriever")
    retriever.bind(load_stores(ctx))
    return retriever
