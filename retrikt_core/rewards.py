"""Reward for RL on the generator. The quality term (the teacher's probability
of the requested label) is what every optimizer gets today; diversity and
degeneracy terms are composed here as they land."""

from __future__ import annotations

from retrikt_core.interfaces import RewardFn, Teacher
from retrikt_core.records import Knowledge


def quality_reward(teacher: Teacher) -> RewardFn:
    """Teacher probability that each sample carries the label it was asked for."""

    def score(samples: list[Knowledge]) -> list[float]:
        probs = teacher.predict_proba([s.example for s in samples])
        return [
            row[s.requested_label] if s.requested_label is not None else 0.0
            for s, row in zip(samples, probs, strict=True)
        ]

    return score
