"""Classification metrics on label indices (pure Python: no numpy needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def confusion(gold: Sequence[int], pred: Sequence[int], num_labels: int) -> list[list[int]]:
    """``m[g][p]``: how often gold label g was predicted as p."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    matrix = [[0] * num_labels for _ in range(num_labels)]
    for g, p in zip(gold, pred, strict=True):
        matrix[g][p] += 1
    return matrix


def accuracy(gold: Sequence[int], pred: Sequence[int]) -> float:
    if not gold:
        return float("nan")
    return sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)


def macro_f1(gold: Sequence[int], pred: Sequence[int], num_labels: int) -> float:
    """Unweighted mean of per-label F1 (a label never gold nor predicted counts 0)."""
    m = confusion(gold, pred, num_labels)
    scores = []
    for c in range(num_labels):
        tp = m[c][c]
        fp = sum(m[g][c] for g in range(num_labels)) - tp
        fn = sum(m[c]) - tp
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / num_labels


def mcc(gold: Sequence[int], pred: Sequence[int], num_labels: int) -> float:
    """Matthews correlation coefficient, multi-class (Gorodkin's R_K)."""
    m = confusion(gold, pred, num_labels)
    n = sum(map(sum, m))
    correct = sum(m[c][c] for c in range(num_labels))
    pred_tot = [sum(m[g][c] for g in range(num_labels)) for c in range(num_labels)]
    gold_tot = [sum(m[c]) for c in range(num_labels)]
    cov_xy = correct * n - sum(p * g for p, g in zip(pred_tot, gold_tot, strict=True))
    cov_xx = n * n - sum(p * p for p in pred_tot)
    cov_yy = n * n - sum(g * g for g in gold_tot)
    if cov_xx == 0 or cov_yy == 0:
        return 0.0
    return cov_xy / math.sqrt(cov_xx * cov_yy)


def expected_calibration_error(
    probs: Sequence[Sequence[float]], gold: Sequence[int], bins: int = 10
) -> float:
    """ECE over ``bins`` equal-width confidence bins."""
    if not gold:
        return float("nan")
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, sum confidence, sum correct
    for row, g in zip(probs, gold, strict=True):
        label = max(range(len(row)), key=row.__getitem__)
        confidence = row[label]
        b = min(int(confidence * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += confidence
        totals[b][2] += float(label == g)
    n = len(gold)
    return sum(abs(c - k) / n for count, c, k in totals if count)


def argmax_rows(probs: Sequence[Sequence[float]]) -> list[int]:
    return [max(range(len(row)), key=row.__getitem__) for row in probs]


def classification_metrics(
    probs: Sequence[Sequence[float]], gold: Sequence[int], num_labels: int
) -> dict[str, float]:
    pred = argmax_rows(probs)
    return {
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred, num_labels),
        "mcc": mcc(gold, pred, num_labels),
        "ece": expected_calibration_error(probs, gold),
    }
