"""``tune``: supervised soft-prompt tuning of the generator (and a second source's fit)."""

from __future__ import annotations

from typing import Any

from retrikt_core.pipeline.stage import SOURCE_SECTIONS, StageContext


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
