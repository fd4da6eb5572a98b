"""Diversity and degeneracy statistics on hand-made texts."""

from __future__ import annotations

import pytest

from retrikt_core.knowledge import degenerate_reason, distinct_n, max_ngram_repeat
from retrikt_core.records import Knowledge


def test_distinct_2():
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["x"], 2) == 0.0


def test_max_ngram_repeat():
    assert max_ngram_repeat("a b c a b c a b c") == 3
    assert max_ngram_repeat("one two three four") == 1


@pytest.mark.parametrize(
    ("entry", "pair", "reason"),
    [
        (Knowledge(text="  "), False, "empty"),
        (Knowledge(text="a premise here", text_pair=None), True, "off_format"),
        (Knowledge(text="too short"), False, "too_short"),
        (Knowledge(text="so good so good so good so good"), False, "repetitive"),
        (Knowledge(text="a perfectly fine review of a film"), False, None),
    ],
)
def test_degenerate_reasons(entry, pair, reason):
    assert degenerate_reason(entry, pair) == reason
