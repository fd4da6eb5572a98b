"""Filtering of gathered knowledge: degenerate text, duplicates, and anything
that repeats the evaluation split (leakage)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from retrikt_core.knowledge.textstats import degenerate_reason
from retrikt_core.records import Example, Knowledge

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str | None) -> str:
    """Lower-case, punctuation dropped, whitespace collapsed: the duplicate key."""
    if not text:
        return ""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def pair_key(text: str, text_pair: str | None) -> str:
    return normalise(text) + " ||| " + normalise(text_pair)


def shingles(text: str | None, n: int = 3) -> set[tuple[str, ...]]:
    """Word n-grams of the normalised text (the whole text if shorter)."""
    words = normalise(text).split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class NearDuplicateIndex:
    """Finds eval texts that an entry nearly repeats, scoring the higher of
    word-set Jaccard (a copy with a word or two changed) and the share of the
    entry's word trigrams found in one eval text (a phrase cut from an eval
    sentence leaks as much as the sentence). Word-set Jaccard needs five
    distinct words and containment three trigrams (five words): shorter texts
    share words by chance, and only exact repeats of an eval text drop them."""

    def __init__(self, texts: list[str], threshold: float) -> None:
        self.threshold = threshold
        self.grams = [shingles(t) for t in texts]
        self.words = [set(normalise(t).split()) for t in texts]
        self.by_key: dict[object, set[int]] = {}
        frequency = Counter(w for words in self.words for w in words)
        rare = max(2, len(texts) // 20)  # words in <= 5% of eval texts pick candidates
        for i, (grams, words) in enumerate(zip(self.grams, self.words, strict=True)):
            for key in list(grams) + [w for w in words if frequency[w] <= rare]:
                self.by_key.setdefault(key, set()).add(i)

    def similarity(self, text: str | None) -> float:
        """The highest score against any indexed text (0 when none shares a key)."""
        grams, words = shingles(text), set(normalise(text).split())
        if not words:
            return 0.0
        candidates: set[int] = set()
        for key in list(grams) + list(words):
            candidates |= self.by_key.get(key, set())
        best = 0.0
        for i in candidates:
            if len(grams) >= 3:
                best = max(best, len(grams & self.grams[i]) / len(grams))
            if len(words) >= 5:
                best = max(best, len(words & self.words[i]) / len(words | self.words[i]))
        return best

    def matches(self, text: str | None) -> bool:
        return self.threshold > 0 and self.similarity(text) >= self.threshold


@dataclass
class FilterReport:
    kept: list[Knowledge] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def filter_knowledge(
    entries: list[Knowledge],
    eval_examples: list[Example],
    *,
    min_words: int,
    max_words: int,
    drop_duplicates: bool,
    drop_eval_overlap: bool,
    is_pair: bool,
    near_duplicate: float = 0.0,
) -> FilterReport:
    """Keep entries that are well-formed, new, and not copies of eval examples.

    Eval overlap is checked on each side of a pair too: a generated premise that
    repeats an eval premise leaks as much as the whole pair would. With
    ``near_duplicate`` > 0, entries that nearly repeat an eval text (see
    :class:`NearDuplicateIndex`) are dropped as well and counted apart.
    """
    near = None
    if drop_eval_overlap and near_duplicate > 0:
        sides = [e.text for e in eval_examples] + [
            e.text_pair for e in eval_examples if e.text_pair
        ]
        near = NearDuplicateIndex(sides, near_duplicate)
    eval_keys = {pair_key(e.text, e.text_pair) for e in eval_examples}
    eval_sides = {normalise(e.text) for e in eval_examples}
    eval_sides |= {normalise(e.text_pair) for e in eval_examples if e.text_pair}
    eval_sides.discard("")
    seen: set[str] = set()
    report = FilterReport()
    for entry in entries:
        words = len(entry.text.split()) + len((entry.text_pair or "").split())
        if degenerate_reason(entry, is_pair, min_words) or words > max_words:
            report.dropped["degenerate"] += 1
            continue
        key = pair_key(entry.text, entry.text_pair)
        if drop_eval_overlap and (
            key in eval_keys
            or normalise(entry.text) in eval_sides
            or (entry.text_pair and normalise(entry.text_pair) in eval_sides)
        ):
            report.dropped["eval_overlap"] += 1
            continue
        if near is not None and (
            near.matches(entry.text) or (entry.text_pair and near.matches(entry.text_pair))
        ):
            report.dropped["eval_near_duplicate"] += 1
            continue
        if drop_duplicates and key in seen:
            report.dropped["duplicate"] += 1
            continue
        seen.add(key)
        report.kept.append(entry)
    return report
