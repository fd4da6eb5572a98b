"""kNN interpolation as in RetriKT (and kNN-LM): the student's distribution is
mixed with the teacher distributions of retrieved neighbours,

    p(y|x) = lam * p_knn(y|x) + (1 - lam) * p_student(y|x),
    p_knn(y|x) = sum_j softmax_j(score_j / temperature) * q_j(y),

where q_j is the teacher distribution stored with neighbour j. ``lam = 0`` is
the student alone, ``lam = 1`` retrieval alone. A query with no neighbours
keeps the student's distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from retrikt_core.records import Example, Knowledge, Neighbors

# The grids choose_mixing searches: finer than tune_interpolation's defaults,
# because added or held-out knowledge gives hundreds or thousands of entries
# to score rather than half a k-shot set.
MIXING_LAMS = tuple(float(x) for x in np.round(np.linspace(0, 1, 21), 2))
MIXING_TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def knn_distribution(
    neighbors: Neighbors, num_labels: int, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(p_knn [n, C], has_neighbors [n])`` from similarity-weighted neighbour labels."""
    if not 0 < temperature < float("inf"):  # NaN fails this too
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    n = len(neighbors)
    out = np.full((n, num_labels), 1.0 / num_labels)
    found = np.zeros(n, dtype=bool)
    for i in range(n):
        scores = np.asarray(neighbors.scores[i], dtype=np.float64)
        if scores.size == 0:
            continue
        weights = np.exp((scores - scores.max()) / temperature)
        weights /= weights.sum()
        labels = np.asarray(neighbors.label_probs[i], dtype=np.float64).reshape(-1, num_labels)
        out[i] = weights @ labels
        found[i] = True
    return out, found


def interpolate(
    student_probs: np.ndarray, neighbors: Neighbors, lam: float, temperature: float
) -> np.ndarray:
    """Mix student probabilities ``[n, C]`` with the neighbours' label distribution."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    student_probs = np.asarray(student_probs, dtype=np.float64)
    knn, found = knn_distribution(neighbors, student_probs.shape[1], temperature)
    mixed = lam * knn + (1.0 - lam) * student_probs
    return np.where(found[:, None], mixed, student_probs)


def tune_interpolation(
    student_probs: np.ndarray,
    neighbors: Neighbors,
    labels: np.ndarray,
    lams: tuple[float, ...] = tuple(np.round(np.linspace(0, 1, 11), 2)),
    temperatures: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
) -> tuple[float, float]:
    """Pick (lam, temperature) on held-out data: best log-likelihood.

    ``labels`` are gold labels ``[n]`` or target distributions ``[n, C]``
    (a teacher's soft labels, scored by cross-entropy). Accuracy on a few
    dozen examples is too coarse to choose between settings; log-likelihood
    ranks them more stably.
    """
    labels = np.asarray(labels)
    targets = labels if labels.ndim == 2 else np.eye(np.shape(student_probs)[1])[labels]
    best = (-np.inf, 0.0, 1.0)
    for temperature in temperatures:
        for lam in lams:
            probs = interpolate(student_probs, neighbors, float(lam), temperature)
            loglik = float(np.mean((targets * np.log(probs + 1e-9)).sum(1)))
            if loglik > best[0] + 1e-12:
                best = (loglik, float(lam), float(temperature))
    return best[1], best[2]


def _words(text: str) -> str:
    return " " + " ".join(text.lower().split()) + " "


def overlapping(a: str, b: str, min_words: int = 3) -> bool:
    """Whether one text's words occur, in order and contiguously, within the
    other's (case and spacing ignored): a phrase cut from the same sentence,
    or the same text under another id. Shorter fragments than ``min_words``
    count only when the texts are equal; they occur in unrelated texts too."""
    a, b = _words(a), _words(b)
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return len(short.split()) >= min_words and short in long_


def _joined(record: Example | Knowledge) -> str:
    return " ".join(t for t in (record.text, record.text_pair) if t)


def store_texts(retriever: Any, also: Sequence[Knowledge] = ()) -> dict[str, str]:
    """id -> text (a pair's two texts joined) of every entry in the stores
    ``retriever`` searches, and of ``also`` (entries a retriever without
    stores holds as keys): what :func:`choose_mixing` compares neighbours by."""
    stored = [entry for store in getattr(retriever, "stores", []) for entry in store.entries()]
    return {entry.id: _joined(entry) for entry in [*stored, *also]}


def drop_overlapping(
    queries: Sequence[Example], neighbors: Neighbors, texts: Mapping[str, str]
) -> Neighbors:
    """``neighbors`` without those whose text (``texts``: id -> text)
    overlaps their query's (:func:`overlapping`); neighbours of unknown
    text are kept."""
    fields = (neighbors.ids, neighbors.scores, neighbors.label_probs)
    rows: tuple[list[list[Any]], ...] = ([], [], [])
    for i, query in enumerate(queries):
        own = _joined(query)
        keep = [
            r
            for r, id_ in enumerate(neighbors.ids[i])
            if id_ not in texts or not overlapping(own, texts[id_])
        ]
        for out, field in zip(rows, fields, strict=True):
            out.append([field[i][r] for r in keep])
    return Neighbors(*rows)


def choose_mixing(
    own_proba: Callable[[list[Example]], np.ndarray | list[list[float]]],
    retrieve: Callable[[list[Example]], Neighbors],
    entries: Sequence[Knowledge],
    lam: float,
    temperature: float,
    max_entries: int = 4000,
    texts: Mapping[str, str] | None = None,
) -> tuple[float, float] | None:
    """``(lam, temperature)`` for a trained student, chosen on labelled
    ``entries`` it never trained on (knowledge added after training, or
    store entries held out of it), with the teacher's distributions as the
    targets, so no evaluation label is read.

    ``lam`` in [0, 1] and ``temperature`` > 0 are settings the student's
    options fix, kept as they are; None when both are fixed. ``own_proba``
    is the student alone, ``retrieve`` finds neighbours (the stores drop a
    query's own entry, matched by id, so an entry is not its own
    neighbour). At most ``max_entries`` are scored, spread evenly over
    ``entries``.

    With ``texts`` (id -> text of the entries neighbours may be), neighbours
    that overlap the scored entry (:func:`overlapping`) are left out. A
    corpus cut into phrases (SST-2's train split is) gives most entries a
    sibling from the same sentence with the same teacher label; a new query
    has none, so scoring with siblings would choose too large a ``lam``.
    """
    if 0.0 <= lam <= 1.0 and temperature > 0:
        return None
    if not entries or any(not k.teacher_probs for k in entries):
        raise ValueError("choosing lam needs entries with teacher_probs")
    if len(entries) > max_entries:
        step = len(entries) / max_entries
        entries = [entries[int(i * step)] for i in range(max_entries)]
    examples = [k.example for k in entries]
    neighbors = retrieve(examples)
    if texts:
        neighbors = drop_overlapping(examples, neighbors, texts)
    return tune_interpolation(
        np.asarray(own_proba(examples), dtype=np.float64),
        neighbors,
        np.asarray([k.teacher_probs for k in entries], dtype=np.float64),
        (lam,) if 0.0 <= lam <= 1.0 else MIXING_LAMS,
        (temperature,) if temperature > 0 else MIXING_TEMPERATURES,
    )
