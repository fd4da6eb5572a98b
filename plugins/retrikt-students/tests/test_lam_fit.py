"""``lam_fit = "held_out"``: lam and the neighbour temperature are chosen
after training, on store entries the student did not train on."""

from __future__ import annotations

import numpy as np
import pytest
from retrikt_students.bilstm import BiLSTMStudent, BiLSTMStudentOptions
from retrikt_students.training import MAX_HELD_OUT, split_held_out, training_sample
from test_student_onnx import TASK, make_data
from test_train_on import SMALL, Recording

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.errors import OptionError
from retrikt_core.interpolation import (
    choose_mixing,
    drop_overlapping,
    store_texts,
    tune_interpolation,
)
from retrikt_core.records import Knowledge


def knn_over(knowledge, k=4):
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=k))
    retriever.bind([store])
    return retriever


@pytest.mark.parametrize(
    ("train_on", "held_out", "trained", "held"),
    [
        (0, 0.1, 72, 8),
        (0, 5, 75, 5),
        (0, 0.0, 80, 0),
        (0, 500, 1, 79),
        (20, 0.1, 20, 60),
    ],
)
def test_held_out_entries_are_the_untrained_ones(train_on, held_out, trained, held):
    keep, kept_out = split_held_out(80, train_on, held_out, seed=2)
    assert (len(keep), len(kept_out)) == (trained, held)
    assert not set(keep) & set(kept_out) and keep == sorted(keep)
    if train_on:
        assert keep == training_sample(80, train_on, seed=2), "train_on draws as without lam_fit"
    assert (keep, kept_out) == split_held_out(80, train_on, held_out, seed=2)


def test_many_untrained_entries_are_sampled_down():
    keep, held = split_held_out(MAX_HELD_OUT + 1100, 100, 0.1, seed=0)
    assert len(keep) == 100 and len(held) == MAX_HELD_OUT and not set(keep) & set(held)


def test_lam_is_the_best_mix_on_the_held_out_entries():
    kshot, knowledge = make_data()
    recording = Recording(knn_over(knowledge))
    student = BiLSTMStudent(BiLSTMStudentOptions(lam_fit="held_out", held_out=8, **SMALL))
    stats = student.fit(TASK, kshot, knowledge, recording, seed=0)
    _, held = split_held_out(80, 0, 8, seed=0)
    held_examples = [knowledge[i].example for i in held]
    assert stats["trained_on_entries"] == 72 and stats["lam_fit_entries"] == 8
    assert recording.asked[-8:] == [e.id for e in held_examples], "chosen on the held-out entries"
    assert not set(recording.asked[:-8]) & {e.id for e in held_examples}, "never trained on"
    targets = np.array([knowledge[i].teacher_probs for i in held])
    expected = tune_interpolation(
        student.own_proba(held_examples),
        recording.retriever.retrieve(held_examples),
        targets,
        tuple(np.round(np.linspace(0, 1, 21), 2)),
        (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    )
    assert (student.lam, student.knn_temperature) == expected
    assert (stats["lam"], stats["knn_temperature"]) == expected


def test_an_untrained_student_leans_on_neighbours_that_match_the_teacher():
    kshot, knowledge = make_data()
    # A student that barely moves from its start is near uniform; the
    # neighbours carry the teacher's labels, so the held-out fit trusts them.
    still = dict(SMALL, lr=1e-7, epochs=1)
    student = BiLSTMStudent(BiLSTMStudentOptions(lam_fit="held_out", held_out=16, **still))
    student.fit(TASK, kshot, knowledge, knn_over(knowledge), seed=0)
    assert student.lam >= 0.9
    fixed = BiLSTMStudent(BiLSTMStudentOptions(lam_fit="held_out", lam=0.3, **still))
    fixed.fit(TASK, kshot, knowledge, knn_over(knowledge), seed=0)
    assert fixed.lam == 0.3, "a configured lam is kept; only the temperature is chosen"


def test_learned_retrieval_chooses_lam_in_its_own_space(tmp_path):
    kshot, knowledge = make_data()
    states = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32)
    options = BiLSTMStudentOptions(retrieval="learned", lam_fit="held_out", **SMALL)
    student = BiLSTMStudent(options)
    stats = student.fit(TASK, kshot, knowledge, knn_over(knowledge), seed=0, teacher_states=states)
    assert stats["lam_fit_entries"] == 8 and 0.0 <= student.lam <= 1.0
    assert len(student.learned_keys.ids) == 80, "held-out entries are still keys"
    student.save_pretrained(tmp_path / "s")
    again = BiLSTMStudent.from_pretrained(tmp_path / "s")
    assert (again.lam, again.knn_temperature) == (student.lam, student.knn_temperature)


def test_a_fractional_held_out_count_is_refused_with_its_name():
    with pytest.raises(OptionError, match="whole") as info:
        BiLSTMStudentOptions(held_out=2.5)
    assert info.value.field == "held_out"


def test_fit_mixing_after_training_scores_an_even_spread_of_the_entries(monkeypatch):
    import retrikt_students.training as training

    kshot, knowledge = make_data()
    student = BiLSTMStudent(BiLSTMStudentOptions(**SMALL))
    student.fit(TASK, kshot, knowledge[:40], knn_over(knowledge[:40]), seed=0)
    monkeypatch.setattr(training, "MAX_HELD_OUT", 10)
    recording = Recording(knn_over(knowledge))
    assert student.fit_mixing(knowledge[40:], recording)
    scored = [knowledge[i].example for i in range(40, 80, 4)]
    assert recording.asked == [e.id for e in scored], "every 4th of 40 entries: 10"
    expected = tune_interpolation(
        student.own_proba(scored),
        recording.retriever.retrieve(scored),
        np.array([e.teacher_probs for e in knowledge[40:80:4]]),
        tuple(np.round(np.linspace(0, 1, 21), 2)),
        (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    )
    assert (student.lam, student.knn_temperature) == expected


def test_fit_mixing_keeps_settings_the_options_fix():
    kshot, knowledge = make_data()
    fixed = BiLSTMStudent(BiLSTMStudentOptions(lam=0.3, knn_temperature=0.5, **SMALL))
    fixed.fit(TASK, kshot, knowledge[:40], knn_over(knowledge[:40]), seed=0)
    assert not fixed.fit_mixing(knowledge[40:], knn_over(knowledge))
    assert (fixed.lam, fixed.knn_temperature) == pytest.approx((0.3, 0.5))
    half = BiLSTMStudent(BiLSTMStudentOptions(lam=0.3, **SMALL))
    half.fit(TASK, kshot, knowledge[:40], knn_over(knowledge[:40]), seed=0)
    assert half.fit_mixing(knowledge[40:], knn_over(knowledge))
    assert half.lam == pytest.approx(0.3)


@pytest.mark.parametrize(("train_on", "left_out"), [(0, False), (40, True)])
def test_overlapping_neighbours_are_left_out_where_the_student_did_not_see_them(
    monkeypatch, train_on, left_out
):
    """A held-out share was trained around (its phrases' siblings are among
    the trained entries), so its neighbours are kept whole; outside a
    ``train_on`` sample, and for entries added later, only the store knows
    the siblings, so ``choose_mixing`` gets the texts to leave them out."""
    import retrikt_students.training as training

    seen: list[dict[str, str] | None] = []

    def recording(*args, texts=None, **kwargs):
        seen.append(texts)
        return choose_mixing(*args, texts=texts, **kwargs)

    monkeypatch.setattr(training, "choose_mixing", recording)
    kshot, knowledge = make_data()
    retriever = knn_over(knowledge)
    options = BiLSTMStudentOptions(lam_fit="held_out", held_out=8, train_on=train_on, **SMALL)
    student = BiLSTMStudent(options)
    student.fit(TASK, kshot, knowledge, retriever, seed=0)
    expected = {k.id: k.text for k in knowledge} if left_out else None
    assert seen == [expected]
    assert student.fit_mixing(knowledge[40:], retriever), "knowledge added later"
    assert seen[-1] == {k.id: k.text for k in knowledge}


def test_siblings_in_the_store_do_not_choose_lam_for_added_entries():
    kshot, knowledge = make_data()
    student = BiLSTMStudent(BiLSTMStudentOptions(**SMALL))
    student.fit(TASK, kshot, knowledge[:40], knn_over(knowledge[:40]), seed=0)
    # Each added entry has a sibling in the store: its text with a word more,
    # the same teacher label, and every neighbour's place but its own.
    added = knowledge[40:]
    siblings = [
        Knowledge(k.text + " indeed", teacher_probs=k.teacher_probs, id=f"{k.id}-s") for k in added
    ]
    retriever = knn_over(knowledge + siblings)
    assert student.fit_mixing(added, retriever)
    examples = [k.example for k in added]
    found = retriever.retrieve(examples)
    kept = drop_overlapping(examples, found, store_texts(retriever))
    assert sum(map(len, kept.ids)) < sum(map(len, found.ids)), "siblings were found"
    expected = tune_interpolation(
        student.own_proba(examples),
        kept,
        np.array([k.teacher_probs for k in added]),
        tuple(np.round(np.linspace(0, 1, 21), 2)),
        (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    )
    assert (student.lam, student.knn_temperature) == expected


def test_a_student_searching_its_own_keys_still_knows_the_added_texts(monkeypatch, tmp_path):
    """Its own retriever has no stores to read texts from; the added entries,
    which become its keys, are still compared with one another."""
    import retrikt_students.training as training

    seen: list[dict[str, str] | None] = []

    def recording(*args, texts=None, **kwargs):
        seen.append(texts)
        return choose_mixing(*args, texts=texts, **kwargs)

    kshot, knowledge = make_data()
    states = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    student = BiLSTMStudent(BiLSTMStudentOptions(retrieval="learned", **SMALL))
    retriever = knn_over(knowledge[:40])
    student.fit(TASK, kshot, knowledge[:40], retriever, seed=0, teacher_states=states)
    student.add_own_keys(knowledge[40:], tmp_path)
    monkeypatch.setattr(training, "choose_mixing", recording)
    assert student.fit_mixing(knowledge[40:], student.own_retriever())
    assert seen == [{k.id: k.text for k in knowledge[40:]}]
