"""Metrics and kNN interpolation math on hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrikt_core.interpolation import interpolate, knn_distribution, tune_interpolation
from retrikt_core.metrics import accuracy, expected_calibration_error, macro_f1, mcc
from retrikt_core.records import Neighbors


def test_accuracy_macro_f1_mcc():
    gold = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    assert accuracy(gold, pred) == pytest.approx(4 / 6)
    # per-class F1: c0 = 2*1/(2+1+1)=0.5, c1 = 2*2/(4+1)=0.8, c2 = 2*1/(2+1)=2/3
    assert macro_f1(gold, pred, 3) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert mcc([0, 1, 0, 1], [0, 1, 0, 1], 2) == pytest.approx(1.0)
    assert mcc([0, 1, 0, 1], [1, 0, 1, 0], 2) == pytest.approx(-1.0)
    assert mcc([0, 1, 0, 1], [0, 0, 0, 0], 2) == 0.0


def test_ece_of_perfectly_calibrated_and_overconfident():
    assert expected_calibration_error([[1.0, 0.0]] * 4, [0] * 4) == pytest.approx(0.0)
    assert expected_calibration_error([[0.9, 0.1]] * 2, [1, 1]) == pytest.approx(0.9)


NEIGHBORS = Neighbors(
    ids=[["a", "b"], []],
    scores=[[1.0, 0.0], []],
    label_probs=[[[0.0, 1.0], [1.0, 0.0]], []],
)
STUDENT = np.array([[0.8, 0.2], [0.3, 0.7]])


def test_lambda_zero_is_student_and_one_is_retrieval():
    assert np.allclose(interpolate(STUDENT, NEIGHBORS, 0.0, 1.0), STUDENT)
    knn, found = knn_distribution(NEIGHBORS, 2, 1.0)
    w = math.exp(1) / (math.exp(1) + 1)
    assert np.allclose(knn[0], [1 - w, w]) and list(found) == [True, False]
    mixed = interpolate(STUDENT, NEIGHBORS, 1.0, 1.0)
    assert np.allclose(mixed[0], [1 - w, w])
    assert np.allclose(mixed[1], STUDENT[1])  # no neighbours: the student's own


def test_low_temperature_picks_the_nearest_neighbour():
    knn, _ = knn_distribution(NEIGHBORS, 2, 0.01)
    assert np.allclose(knn[0], [0.0, 1.0], atol=1e-6)


def test_interpolation_rejects_bad_parameters():
    with pytest.raises(ValueError):
        interpolate(STUDENT, NEIGHBORS, 1.5, 1.0)
    with pytest.raises(ValueError):
        knn_distribution(NEIGHBORS, 2, 0.0)
    for bad in (math.nan, math.inf):  # NaN would make every probability NaN
        with pytest.raises(ValueError, match="finite number > 0"):
            knn_distribution(NEIGHBORS, 2, bad)
    with pytest.raises(ValueError):
        interpolate(STUDENT, NEIGHBORS, math.nan, 1.0)


def test_hashed_features_refuse_a_zero_dimension():
    from retrikt_core.records import Example
    from retrikt_core.storekit import hashed_features

    with pytest.raises(ValueError, match="dim >= 1"):
        hashed_features([Example("a film")], 0)


def test_tuning_prefers_retrieval_when_it_is_right():
    labels = np.array([1, 1])
    wrong_student = np.array([[0.9, 0.1], [0.9, 0.1]])
    right_neighbors = Neighbors([["a"], ["b"]], [[1.0], [1.0]], [[[0.0, 1.0]], [[0.0, 1.0]]])
    lam, _ = tune_interpolation(wrong_student, right_neighbors, labels)
    assert lam == 1.0
    lam, _ = tune_interpolation(
        1 - wrong_student,
        Neighbors([["a"], ["b"]], [[1.0], [1.0]], [[[1.0, 0.0]], [[1.0, 0.0]]]),
        labels,
    )
    assert lam == 0.0


def test_tuning_on_soft_targets_balances_student_and_neighbours():
    # Targets halfway between a confident student and confident neighbours:
    # the mix that reproduces them is lam = 0.5, which hard labels cannot ask for.
    student = np.array([[0.9, 0.1], [0.9, 0.1]])
    neighbors = Neighbors([["a"], ["b"]], [[1.0], [1.0]], [[[0.1, 0.9]], [[0.1, 0.9]]])
    targets = np.array([[0.5, 0.5], [0.5, 0.5]])
    lam, _ = tune_interpolation(student, neighbors, targets)
    assert lam == 0.5
    assert tune_interpolation(student, neighbors, np.array([[0.1, 0.9]] * 2))[0] == 1.0
