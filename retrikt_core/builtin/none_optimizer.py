"""The ``none`` RL optimizer: keep the supervised generator as it is."""

from __future__ import annotations

from retrikt_core.api import KnowledgeGenerator, RewardFn, RLOptimizer, Task


class NoOptimizer(RLOptimizer):
    """Skip RL: the generator after supervised tuning is used unchanged."""

    name = "none"

    def optimize(
        self, generator: KnowledgeGenerator, reward: RewardFn | None, *, task: Task, seed: int
    ) -> list[dict[str, float]]:
        return []
