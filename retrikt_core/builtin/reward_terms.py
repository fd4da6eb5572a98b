"""The reward terms retrikt-core ships:

- ``quality``: the teacher's probability of the requested label;
- ``diversity``: minus the largest word-bigram overlap (Jaccard) with another
  sample of the batch or with one of the last ``memory`` scored samples;
- ``degenerate``: -1 for empty, off-format, too short or repetitive text.
"""

from __future__ import annotations

from typing import Any

from retrikt_core.api import Knowledge, RewardTerm, degenerate_reason, jaccard, sample_bigrams


class QualityTerm(RewardTerm):
    """The teacher's probability that a sample carries the label it was asked for."""

    name = "quality"

    def score(self, samples: list[Knowledge], context: Any) -> list[float]:
        if context.teacher is None:
            raise ValueError("the quality reward needs a teacher")
        probs = context.teacher.predict_proba([s.example for s in samples])
        return [
            row[s.requested_label] if s.requested_label is not None else 0.0
            for s, row in zip(samples, probs, strict=True)
        ]


class DiversityTerm(RewardTerm):
    """Minus the largest bigram overlap with another sample of the batch or a recent one."""

    name = "diversity"

    def score(self, samples: list[Knowledge], context: Any) -> list[float]:
        grams = [sample_bigrams(s) for s in samples]
        scores = []
        for i, mine in enumerate(grams):
            others = [g for j, g in enumerate(grams) if j != i] + list(context.kept)
            scores.append(-max((jaccard(mine, g) for g in others), default=0.0))
        return scores


class DegenerateTerm(RewardTerm):
    """-1 for empty, off-format, too short or repetitive samples, else 0."""

    name = "degenerate"

    def score(self, samples: list[Knowledge], context: Any) -> list[float]:
        return [-1.0 if degenerate_reason(s, context.task.is_pair) else 0.0 for s in samples]


REWARD_TERMS = (QualityTerm, DiversityTerm, DegenerateTerm)
