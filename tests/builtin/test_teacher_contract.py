"""Every shipped teacher, and the example plugin's through its entry point,
against the shared teacher contract (retrikt_core/testing/teacher_contract.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from retrikt_core.builtin.bow import BowTeacher, BowTeacherOptions
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.teacher_contract import TeacherContract


class TestBowTeacher(TeacherContract):
    invalid_options = [
        ({"dim": 0}, "dim"),
    ]

    def make_teacher(self, tmp_path):
        return BowTeacher(BowTeacherOptions(dim=1024, epochs=40))


class TestLexiconTeacherFromEntryPoint(TeacherContract):
    """The example third-party plugin as retrikt finds it: through the
    `retrikt` entry point of the installed retrikt-lexicon package."""

    invalid_options = [({"words": {"nonsense": ["x"]}}, "words"), ({"sharpness": 0.0}, "sharpness")]

    def make_teacher(self, tmp_path):
        plugins = get_plugins()
        if "lexicon" not in plugins.infos:
            pytest.fail(
                "retrikt-lexicon is not installed: run `make test` (it pip-installs "
                "examples/retrikt-plugin-example)"
            )
        entry = plugins.registry.entry("teacher", "lexicon")
        assert entry.package == "retrikt-lexicon"
        words = {
            "negative": ["dull", "bad", "boring"],
            "neutral": ["plain", "average"],
            "positive": ["great", "fun", "good"],
        }
        return entry.cls(entry.cls.Options(words=words))


# The suite must catch what it claims to: each broken teacher below fails the
# check named beside it (and nothing here is collected as a contract run).


class _NumpyRows(BowTeacher):
    def predict_proba(self, examples):
        import numpy as np

        return list(np.asarray(super().predict_proba(examples)))  # rows are arrays


class _BatchDependent(BowTeacher):
    def predict_proba(self, examples):
        import numpy as np

        rows = np.asarray(super().predict_proba(examples))
        return (0.9 * rows + 0.1 * rows.mean(0)).tolist() if len(rows) else []


class _Unseeded(BowTeacher):
    def fit(self, task, examples, *, seed):
        import numpy as np

        stats = super().fit(task, examples, seed=seed)
        self.model.bias = self.model.bias + np.random.default_rng().normal(size=3)
        return stats


class _ForgetsOnLoad(BowTeacher):
    def load_state(self, path):
        super().load_state(path)
        self.model.bias = self.model.bias * 0


class _IgnoresPairs(BowTeacher):
    def predict_proba(self, examples):
        from retrikt_core.records import Example

        return super().predict_proba([Example(e.text, id=e.id) for e in examples])


class _Embeds(BowTeacher):
    """A correct embed (the control for the embed check): log-probabilities."""

    def embed(self, examples):
        import math

        return [[math.log(max(p, 1e-12)) for p in row] for row in self.predict_proba(examples)]


class _EmbedBatchDependent(_Embeds):
    def embed(self, examples):
        import numpy as np

        rows = np.asarray(super().embed(examples))
        return (rows + rows.mean(0)).tolist() if len(rows) else []


class _EmbedForgetsOnLoad(_Embeds, _ForgetsOnLoad):
    pass


# The check a broken teacher fails, when its control is not plain bow-lr.
CONTROLS = {"test_embed_if_implemented_gives_one_row_per_input": _Embeds}


@dataclass
class _PlainOptions(BowTeacherOptions):
    smoothing: float = 0.0  # a field without help text (not made with option())


class _Undocumented(BowTeacher):
    Options = _PlainOptions


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_NumpyRows, "test_predict_proba_rows_are_distributions"),
        (_BatchDependent, "test_batching_does_not_change_probabilities"),
        (_Unseeded, "test_same_seed_gives_the_same_teacher"),
        (_ForgetsOnLoad, "test_save_load_round_trip"),
        (_IgnoresPairs, "test_sentence_pairs_use_both_texts"),
        (_Undocumented, "test_options_are_a_documented_dataclass"),
        (_EmbedBatchDependent, "test_embed_if_implemented_gives_one_row_per_input"),
        (_EmbedForgetsOnLoad, "test_embed_if_implemented_gives_one_row_per_input"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_contract_catches_a_broken_teacher(tmp_path, broken, check):
    class Suite(TeacherContract):
        teacher_cls = BowTeacher

        def make_teacher(self, tmp_path):
            return self.teacher_cls(self.teacher_cls.Options(dim=1024, epochs=40))

    Suite.teacher_cls = CONTROLS.get(check, BowTeacher)
    getattr(Suite(), check)(tmp_path / "intact")  # the control passes
    Suite.teacher_cls = broken
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(Suite(), check)(tmp_path / "broken")
