"""choose_mixing: lam and the neighbour temperature chosen on labelled entries
a trained student never saw, shared by every student's ``fit_mixing``."""

from __future__ import annotations

import numpy as np
import pytest

from retrikt_core.builtin.bow import BowKnnStudent, BowStudentOptions
from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.interpolation import (
    MIXING_LAMS,
    MIXING_TEMPERATURES,
    choose_mixing,
    tune_interpolation,
)
from retrikt_core.records import Example, Knowledge, Neighbors


def entries(n: int, labels: list[int] | None = None) -> list[Knowledge]:
    labels = labels or [i % 2 for i in range(n)]
    return [
        Knowledge(f"entry {i}", teacher_probs=(0.9, 0.1) if y == 0 else (0.1, 0.9), id=f"e{i}")
        for i, y in enumerate(labels)
    ]


class Recorder:
    """Neighbours that carry each entry's own teacher label, and the ids asked."""

    def __init__(self, by_id: dict[str, Knowledge]) -> None:
        self.by_id = by_id
        self.asked: list[str] = []

    def __call__(self, examples: list[Example]) -> Neighbors:
        self.asked += [e.id for e in examples]
        probs = [[list(self.by_id[e.id].teacher_probs)] for e in examples]
        return Neighbors([["n"] for _ in examples], [[1.0] for _ in examples], probs)


def unsure(examples: list[Example]) -> np.ndarray:
    return np.full((len(examples), 2), 0.5)


def test_both_settings_fixed_chooses_nothing():
    known = entries(4)
    recorder = Recorder({k.id: k for k in known})
    assert choose_mixing(unsure, recorder, known, 0.3, 0.5) is None
    assert recorder.asked == [], "nothing is scored when nothing is to be chosen"


def test_neighbours_that_carry_the_targets_win_the_mix():
    known = entries(20)
    lam, temperature = choose_mixing(unsure, Recorder({k.id: k for k in known}), known, -1, -1)
    assert lam == 1.0 and temperature in MIXING_TEMPERATURES


def test_a_fixed_setting_is_kept_and_the_other_chosen():
    known = entries(20)
    retrieve = Recorder({k.id: k for k in known})
    lam, temperature = choose_mixing(unsure, retrieve, known, 0.3, 0.0)
    assert lam == 0.3 and temperature in MIXING_TEMPERATURES
    lam, temperature = choose_mixing(unsure, retrieve, known, -1, 0.7)
    assert lam in MIXING_LAMS and temperature == 0.7


def test_at_most_max_entries_are_scored_evenly_spread():
    known = entries(40)
    recorder = Recorder({k.id: k for k in known})
    chosen = choose_mixing(unsure, recorder, known, -1, -1, max_entries=10)
    assert recorder.asked == [f"e{i}" for i in range(0, 40, 4)]
    scored = known[::4]
    expected = tune_interpolation(
        unsure([k.example for k in scored]),
        Recorder({k.id: k for k in known})([k.example for k in scored]),
        np.array([k.teacher_probs for k in scored]),
        MIXING_LAMS,
        MIXING_TEMPERATURES,
    )
    assert chosen == expected


def test_entries_without_teacher_labels_are_refused():
    with pytest.raises(ValueError, match="teacher_probs"):
        choose_mixing(unsure, Recorder({}), [Knowledge("no label", id="x")], -1, -1)
    with pytest.raises(ValueError, match="teacher_probs"):
        choose_mixing(unsure, Recorder({}), [], -1, -1)


def test_bow_knn_tunes_a_zero_temperature_instead_of_dividing_by_it():
    """A temperature of 0 would divide the neighbour scores by zero; like the
    students plugin, bow-knn reads ``<= 0`` as "choose it"."""
    task = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
    words = {0: ["dull", "bad", "boring"], 1: ["great", "fun", "warm"]}
    train = [Example(f"a {words[i % 2][i % 3]} film", label=i % 2, id=f"t{i}") for i in range(12)]
    knowledge = [
        Knowledge(
            f"so {words[i % 2][i % 3]} {i}",
            teacher_probs=(0.9, 0.1)[:: 1 - 2 * (i % 2)],
            id=f"k{i}",
        )
        for i in range(24)
    ]
    store = MemoryStore()
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    retriever.bind([store])
    student = BowKnnStudent(BowStudentOptions(lam=0.5, knn_temperature=0.0))
    student.fit(task, train, knowledge, retriever, seed=0)
    assert student.lam == 0.5 and student.knn_temperature > 0
    probs = student.predict_proba(train[:4], retriever.retrieve(train[:4]))
    assert np.isfinite(probs).all()
    assert student.fit_mixing(knowledge[:10], retriever)
    assert student.lam == 0.5 and student.knn_temperature in MIXING_TEMPERATURES
