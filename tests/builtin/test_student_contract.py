"""Every shipped student against the shared student contract
(retrikt_core/testing/student_contract.py)."""

from __future__ import annotations

import pytest

from retrikt_core.builtin.bow import BowKnnStudent, BowStudentOptions
from retrikt_core.testing.student_contract import StudentContract


class TestBowKnnStudent(StudentContract):
    lam_option = "lam"
    invalid_options = [
        ({"dim": 0}, "dim"),
        ({"lam": 1.5}, "lam"),
    ]

    def make_student(self, tmp_path):
        return BowKnnStudent(BowStudentOptions(dim=1024, epochs=40))


# The suite must catch what it claims to: each broken student below fails the
# check named beside it, which the intact built-in student passes.


class _EmptyRowsAreUniform(BowKnnStudent):
    def predict_proba(self, examples, neighbors=None):
        import numpy as np

        own = np.asarray(super().predict_proba(examples))
        if neighbors is None:
            return own.tolist()
        empty = np.array([not row for row in neighbors.ids])[:, None]
        mixed = np.asarray(super().predict_proba(examples, neighbors))
        return np.where(empty, 0.5 * own + 0.5 / own.shape[1], mixed).tolist()


class _LamFloor(BowKnnStudent):
    def fit(self, *args, **kwargs):
        stats = super().fit(*args, **kwargs)
        self.lam = max(self.lam, 0.01)
        return stats


class _ForgetsLam(BowKnnStudent):
    def load_state(self, path):
        super().load_state(path)
        self.lam = 0.0


class _BatchNormalised(BowKnnStudent):
    def predict_proba(self, examples, neighbors=None):
        import numpy as np

        rows = np.asarray(super().predict_proba(examples, neighbors))
        return (0.9 * rows + 0.1 * rows.mean(0)).tolist() if len(rows) else []


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_EmptyRowsAreUniform, "test_queries_without_neighbours_keep_the_own_prediction"),
        (_LamFloor, "test_lam_zero_is_the_student_alone"),
        (_ForgetsLam, "test_save_load_round_trip"),
        (_BatchNormalised, "test_batching_does_not_change_predictions"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_contract_catches_a_broken_student(tmp_path, broken, check):
    class Suite(StudentContract):
        lam_option = "lam"
        student_cls = BowKnnStudent

        def make_student(self, tmp_path):
            # lam fixed above 0, so that a lost lam shows after a reload
            return self.student_cls(BowStudentOptions(dim=1024, epochs=40, lam=0.5))

    getattr(Suite(), check)(tmp_path / "intact")  # the control passes
    Suite.student_cls = broken
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(Suite(), check)(tmp_path / "broken")
