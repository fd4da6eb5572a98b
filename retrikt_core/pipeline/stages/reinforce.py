"""``reinforce``: RL on the generator's policy (PPO, or ``none``)."""

from __future__ import annotations

from typing import Any

from retrikt_core.atomic import atomic_write_text
from retrikt_core.pipeline.stage import StageContext
from retrikt_core.records import dump_jsonl
from retrikt_core.rewards import build_reward


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
