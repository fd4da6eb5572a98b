"""retrikt-lexicon against retrikt's shared teacher contract, plus what is
particular to this teacher."""

from __future__ import annotations

import pytest
from retrikt_lexicon import LexiconOptions, LexiconTeacher

from retrikt_core import Example
from retrikt_core.config import ConfigError, build_options
from retrikt_core.testing.teacher_contract import (
    LABEL_WORDS,
    LABELS,
    TeacherContract,
    contract_task,
)

# The contract's task has the labels LABELS; its texts use LABEL_WORDS.
WORDS = {label: LABEL_WORDS[i][:3] for i, label in enumerate(LABELS)}


class TestLexiconTeacher(TeacherContract):
    # Values the teacher must refuse with an error that names the field.
    invalid_options = [
        ({"sharpness": 0.0}, "sharpness"),
        ({"words": {"nonsense": ["bad"]}}, "words"),
    ]

    def make_teacher(self, tmp_path):
        return LexiconTeacher(LexiconOptions(words=WORDS))


def test_counts_label_words():
    teacher = LexiconTeacher(LexiconOptions(words=WORDS, sharpness=1.0))
    teacher.fit(contract_task(), [], seed=0)
    no_words, two_negative = teacher.predict_proba(
        [Example("a film"), Example("a dull and boring film")]
    )
    assert no_words == pytest.approx([1 / 3] * 3)
    assert two_negative.index(max(two_negative)) == 0  # negative
    assert two_negative[0] / two_negative[1] == pytest.approx(2.718281828**2)


def test_sharpness_error_reads_well():
    with pytest.raises(ConfigError, match=r"^teacher\.sharpness: must be > 0, got -1.0$"):
        build_options("teacher", LexiconOptions, {"sharpness": -1})
