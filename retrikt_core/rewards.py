"""The RL reward: a weighted sum of reward terms (components of kind
``reward``), configured in ``[reward] weights``. The terms retrikt-core ships
(``quality``, ``diversity``, ``degenerate``) are in
:mod:`retrikt_core.builtin.reward_terms`; a plugin adds a term with
``register_reward_terms``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from retrikt_core.config import RewardOptions
from retrikt_core.interfaces import RewardTerm, Task, Teacher
from retrikt_core.knowledge.textstats import ngrams, words
from retrikt_core.records import Knowledge


@dataclass
class RewardContext:
    """What terms may read: the teacher, the task, and the bigrams of recently
    scored samples (``kept``, see :func:`sample_bigrams`)."""

    teacher: Teacher | None
    task: Task
    kept: deque


def sample_bigrams(sample: Knowledge) -> frozenset:
    """The word bigrams of a sample (both texts of a pair): what the diversity
    term compares and what :class:`RewardContext` keeps of recent samples."""
    return frozenset(ngrams(words(f"{sample.text} {sample.text_pair or ''}"), 2))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


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
        self.context.kept.extend(sample_bigrams(s) for s in samples)
        return totals, per_term

    def __call__(self, samples: list[Knowledge]) -> list[float]:
        return self.score(samples)[0]


def build_reward(options: RewardOptions, registry, teacher: Teacher | None, task: Task) -> Reward:
    terms = [(registry.get("reward", name)(), weight) for name, weight in options.weights.items()]
    return Reward(terms, RewardContext(teacher, task, deque(maxlen=options.memory)))
