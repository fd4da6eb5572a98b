"""Statistics of generated text: diversity and degeneracy (pure Python)."""

from __future__ import annotations

from collections import Counter

from retrikt_core.records import Knowledge


def words(text: str | None) -> list[str]:
    return (text or "").lower().split()


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique n-grams / all n-grams over a set of texts (Li et al., 2016)."""
    grams = [g for text in texts for g in ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def max_ngram_repeat(text: str, n: int = 3) -> int:
    counts = Counter(ngrams(words(text), n))
    return max(counts.values(), default=0)


def degenerate_reason(
    entry: Knowledge, is_pair: bool, min_words: int = 3, max_repeat: int = 3
) -> str | None:
    """Why an entry is degenerate (``empty``, ``off_format``, ``too_short``,
    ``repetitive``), or None when it is fine."""
    if not entry.text.strip():
        return "empty"
    if is_pair and not (entry.text_pair or "").strip():
        return "off_format"
    full = f"{entry.text} {entry.text_pair or ''}"
    if len(words(full)) < min_words:
        return "too_short"
    if max_ngram_repeat(full, 3) >= max_repeat:
        return "repetitive"
    return None
