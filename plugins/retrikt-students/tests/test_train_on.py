"""``train_on``: a student trains on a sample of the store's entries and
still retrieves from all of them."""

from __future__ import annotations

import numpy as np
import pytest
from retrikt_students.bilstm import BiLSTMStudent, BiLSTMStudentOptions
from retrikt_students.training import training_sample
from test_student_onnx import TASK, make_data

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.errors import OptionError

SMALL = dict(vocab_size=200, d_model=16, hidden=16, epochs=2, batch_size=16)


@pytest.mark.parametrize(("train_on", "count"), [(0.25, 20), (10, 10), (1.0, 80), (500, 80)])
def test_the_sample_is_a_share_or_a_count_of_the_entries(train_on, count):
    keep = training_sample(80, train_on, seed=3)
    assert len(keep) == count and keep == sorted(set(keep))
    assert keep == training_sample(80, train_on, seed=3), "the seed decides the sample"


class Recording:
    """The knn retriever, recording what the student asks it during training
    and the neighbours it gets back."""

    def __init__(self, retriever):
        self.retriever = retriever
        self.asked: list[str] = []
        self.found: set[str] = set()

    def retrieve(self, examples):
        neighbors = self.retriever.retrieve(examples)
        self.asked += [e.id for e in examples]
        self.found |= {entry for row in neighbors.ids for entry in row}
        return neighbors


def test_a_student_trained_on_a_sample_retrieves_from_the_whole_store():
    kshot, knowledge = make_data()
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    retriever.bind([store])
    recording = Recording(retriever)
    states = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32)
    student = BiLSTMStudent(BiLSTMStudentOptions(train_on=0.25, hidden_weight=0.5, **SMALL))
    stats = student.fit(TASK, kshot, knowledge, recording, seed=0, teacher_states=states)
    trained = {knowledge[i].id for i in training_sample(80, 0.25, seed=0)}
    assert stats["trained_on_entries"] == 20
    assert recording.asked == [e.id for e in kshot] + sorted(trained, key=lambda i: int(i[3:]))
    assert recording.found - trained - {e.id for e in kshot}, (
        "training retrieves entries outside the sample: the whole store"
    )


def test_train_on_refuses_teacher_states_of_another_store():
    kshot, knowledge = make_data()
    student = BiLSTMStudent(BiLSTMStudentOptions(train_on=10, hidden_weight=0.5, **SMALL))
    with pytest.raises(ValueError, match="teacher_states"):
        student.fit(TASK, kshot, knowledge, None, seed=0, teacher_states=np.zeros((79, 8)))


def test_a_fractional_count_is_refused_with_its_name():
    with pytest.raises(OptionError, match="whole") as info:
        BiLSTMStudentOptions(train_on=2.5)
    assert info.value.field == "train_on"  # validation reports student.train_on
