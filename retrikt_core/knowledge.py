"""Filtering of gathered knowledge: degenerate text, duplicates, and anything
that repeats the evaluation split (leakage)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from retrikt_core.records import Example, Knowledge
from retrikt_core.textstats import degenerate_reason

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str | None) -> str:
    """Lower-case, punctuation dropped, whitespace collapsed: the duplicate key."""
    if not text:
        return ""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def pair_key(text: str, text_pair: str | None) -> str:
    return normalise(text) + " ||| " + normalise(text_pair)


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
) -> FilterReport:
    """Keep entries that are well-formed, new, and not copies of eval examples.

    Eval overlap is checked on each side of a pair too: a generated premise that
    repeats an eval premise leaks as much as the whole pair would.
    """
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
        if drop_duplicates and key in seen:
            report.dropped["duplicate"] += 1
            continue
        seen.add(key)
        report.kept.append(entry)
    return report
