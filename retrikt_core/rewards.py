"""The RL reward: a weighted sum of reward terms (components of kind
``reward``), configured in ``[reward] weights``. Terms shipped here:

- ``quality``: the teacher's probability of the requested label;
- ``diversity``: minus the largest word-bigram overlap (Jaccard) with another
  sample of the batch or with one of the last ``memory`` scored samples;
- ``degenerate``: -1 for empty, off-format, too short or repetitive text.

A plugin adds a term with ``register_reward_terms``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from retrikt_core.config import RewardOptions
from retrikt_core.interfaces import RewardTerm, Task, Teacher
from retrikt_core.records import Knowledge
from retrikt_core.textstats import degenerate_reason, ngrams, words


@dataclass
class RewardContext:
    """What terms may read: the teacher, the task, and recently scored samples."""

    teacher: Teacher | None
    task: Task
    kept: deque


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


def _bigrams(sample: Knowledge) -> frozenset:
    return frozenset(ngrams(words(f"{sample.text} {sample.text_pair or ''}"), 2))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class DiversityTerm(RewardTerm):
    """Minus the largest bigram overlap with another sample of the batch or a recent one."""

    name = "diversity"

    def score(self, samples: list[Knowledge], context: Any) -> list[float]:
        grams = [_bigrams(s) for s in samples]
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


class Reward:
    """A weighted sum of terms; callable as a plain ``RewardFn``."""

    def __init__(self, terms: list[tuple[RewardTerm, float]], context: RewardContext) -> None:
        self.terms = terms
        self.context = context

    def score(self, samples: list[Knowledge]) -> tuple[list[float], dict[str, list[float]]]:
        """Totals per sample, and each term's scores (for the history)."""
        per_term = {term.name: term.score(samples, self.context) for term, _ in self.terms}
        totals = [
            sum(weight * per_term[term.name][i] for term, weight in self.terms)
            for i in range(len(samples))
        ]
        self.context.kept.extend(_bigrams(s) for s in samples)
        return totals, per_term

    def __call__(self, samples: list[Knowledge]) -> list[float]:
        return self.score(samples)[0]


def build_reward(options: RewardOptions, registry, teacher: Teacher | None, task: Task) -> Reward:
    terms = [(registry.get("reward", name)(), weight) for name, weight in options.weights.items()]
    return Reward(terms, RewardContext(teacher, task, deque(maxlen=options.memory)))
