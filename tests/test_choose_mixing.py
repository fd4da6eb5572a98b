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
    drop_overlapping,
    overlapping,
    store_texts,
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


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a gorgeous , witty film", "it is a gorgeous, witty film", False),  # "," split apart
        ("a gorgeous witty film", "It is A  gorgeous witty film .", True),
        ("the film", "the film", True),  # equal texts count whatever their length
        ("the film", "the film is dull", False),  # two words occur anywhere
        ("film is dull", "the film is dull", True),
        ("is dull film", "the film is dull", False),  # not in order
        ("dull", "dullness", False),
    ],
)
def test_overlapping_texts_share_a_run_of_words(a, b, expected):
    assert overlapping(a, b) is expected
    assert overlapping(b, a) is expected


class Siblings:
    """Two neighbours per query: a phrase cut from its text carrying its
    teacher label (ranked first), and an unrelated text that says nothing."""

    def __init__(self, by_id: dict[str, Knowledge]) -> None:
        self.by_id = by_id
        self.texts = {f"{id_}-cut": k.text.rsplit(" ", 1)[0] for id_, k in by_id.items()}
        self.texts |= {f"{id_}-other": "an unrelated line of text" for id_ in by_id}

    def __call__(self, examples: list[Example]) -> Neighbors:
        return Neighbors(
            [[f"{e.id}-cut", f"{e.id}-other"] for e in examples],
            [[0.9, 0.8] for _ in examples],
            [[list(self.by_id[e.id].teacher_probs), [0.5, 0.5]] for e in examples],
        )


def test_neighbours_cut_from_the_scored_text_are_left_out():
    known = [
        Knowledge(f"a line of text number {i}", teacher_probs=k.teacher_probs, id=k.id)
        for i, k in enumerate(entries(20))
    ]
    retrieve = Siblings({k.id: k for k in known})
    with_siblings = choose_mixing(unsure, retrieve, known, -1, 0.5)
    assert with_siblings == (1.0, 0.5), "the cut phrases carry every target"
    # Left out, only the neighbour that says nothing remains: no lam helps.
    assert choose_mixing(unsure, retrieve, known, -1, 0.5, texts=retrieve.texts) == (0.0, 0.5)
    kept = drop_overlapping([k.example for k in known], retrieve([k.example for k in known]), {})
    assert all(len(row) == 2 for row in kept.ids), "neighbours of unknown text are kept"


def test_store_texts_lists_every_store_entry_of_a_retriever():
    first, second = MemoryStore(), MemoryStore()
    first.add([Knowledge("one", teacher_probs=(1.0, 0.0), id="a")])
    second.add([Knowledge("two", text_pair="three", teacher_probs=(0.0, 1.0), id="b")])
    retriever = KnnRetriever(KnnRetriever.Options(k=2))
    retriever.bind([first, second])
    assert store_texts(retriever) == {"a": "one", "b": "two three"}
