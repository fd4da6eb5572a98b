"""Learned retrieval: a student that retrieves in its own space follows the
teacher's similarities, saves its keys, and finds the same neighbours after a
reload, from its ONNX export, in a bundle and in ``retrikt predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from retrikt_students.learned_retrieval import (
    ENTRIES_FILE,
    KEYS_FILE,
    LearnedKeys,
    StudentSpaceRetriever,
    relational_loss,
)
from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions
from test_student_onnx import SMALL, TASK, inputs, make_data

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.errors import ConfigError, StoreFileError
from retrikt_core.records import Example, Knowledge
from retrikt_core.testing.runs import make_pipeline, task_section, write_sentiment_files

LEARNED = dict(SMALL, retrieval="learned", epochs=6)


def teacher_states(knowledge, seed=0):
    """States whose similarities follow the entries' labels: one direction per
    label, plus noise, plus a direction every state shares (as an LLM's do)."""
    rng = np.random.default_rng(seed)
    label_axes = rng.normal(size=(2, 24))
    common = 10 * rng.normal(size=24)
    labels = [int(np.argmax(k.teacher_probs)) for k in knowledge]
    return (common + label_axes[labels] + 0.3 * rng.normal(size=(len(knowledge), 24))).astype(
        np.float32
    )


def fitted(seed=0, **options):
    kshot, knowledge = make_data()
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    retriever.bind([store])
    student = TransformerStudent(TransformerStudentOptions(**{**LEARNED, **options}))
    stats = student.fit(
        TASK, kshot, knowledge, retriever, seed=seed, teacher_states=teacher_states(knowledge)
    )
    return student, stats, knowledge


@pytest.fixture(scope="module")
def trained():
    return fitted()


def test_the_relational_loss_is_zero_when_similarities_agree_and_pulls_toward_them():
    rng = torch.Generator().manual_seed(0)
    teacher = torch.nn.functional.normalize(torch.randn(6, 5, generator=rng), dim=-1)
    assert relational_loss(teacher, teacher, 0.1).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(6, 3, generator=rng, requires_grad=True)
    losses = []
    optimizer = torch.optim.SGD([student], lr=0.5)
    for _ in range(100):
        loss = relational_loss(torch.nn.functional.normalize(student, dim=-1), teacher, 0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    two = torch.nn.functional.normalize(torch.randn(2, 3, generator=rng), dim=-1)
    assert relational_loss(two, two[:, :2], 0.1).item() == 0.0


def test_the_student_learns_its_keys_and_the_teachers_similarities(trained):
    student, stats, knowledge = trained
    assert stats["retrieval"] == "learned"
    first, last = stats["relation_loss"]
    assert last < first
    keys = student.learned_keys
    assert keys.keys.shape == (len(knowledge), SMALL["d_model"])
    assert np.allclose(np.linalg.norm(keys.keys, axis=1), 1.0, atol=1e-5)
    retriever = student.own_retriever()
    assert isinstance(retriever, StudentSpaceRetriever) and retriever.k == 4
    found = retriever.retrieve([k.example for k in knowledge])
    for entry, ids in zip(knowledge, found.ids, strict=True):
        assert len(ids) == 4 and entry.id not in ids, "an entry is never its own neighbour"
    # In the teacher's space an entry's neighbours share its label: the
    # student's neighbours learned to as well.
    label = {k.id: int(np.argmax(k.teacher_probs)) for k in knowledge}
    pairs = zip(knowledge, found.ids, strict=True)
    same = np.mean([label[n] == label[k.id] for k, row in pairs for n in row])
    assert same > 0.9


def test_keys_save_and_load_with_the_same_neighbours(trained, tmp_path):
    student, _, _ = trained
    student.save_pretrained(tmp_path / "student")
    assert (tmp_path / "student" / KEYS_FILE).is_file()
    loaded = TransformerStudent.from_pretrained(tmp_path / "student")
    queries = inputs()
    before = student.own_retriever().retrieve(queries)
    after = loaded.own_retriever().retrieve(queries)
    assert after.ids == before.ids
    assert np.allclose(after.scores, before.scores, atol=1e-6)
    assert np.allclose(
        loaded.predict_proba(queries, after), student.predict_proba(queries, before), atol=1e-6
    )


def test_the_onnx_export_encodes_queries_that_find_the_same_neighbours(trained, tmp_path):
    student, _, _ = trained
    path = tmp_path / "student"
    student.save_pretrained(path)
    files = student.export_onnx(path)
    onnx = TransformerStudent.from_onnx(path, files["onnx"])
    queries = inputs()
    native = student.own_retriever().retrieve(queries)
    exported = onnx.own_retriever().retrieve(queries)
    assert exported.ids == native.ids
    assert np.allclose(exported.scores, native.scores, atol=1e-5)


def test_damaged_keys_are_refused_naming_the_file(trained, tmp_path):
    student, _, _ = trained
    path = tmp_path / "student"
    student.save_pretrained(path)
    np.save(path / KEYS_FILE, np.zeros((3, 5), np.float32))
    with pytest.raises(StoreFileError, match=KEYS_FILE):
        TransformerStudent.from_pretrained(path)
    student.save_pretrained(path)
    lines = (path / ENTRIES_FILE).read_text().splitlines()
    (path / ENTRIES_FILE).write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(StoreFileError, match=ENTRIES_FILE):
        TransformerStudent.from_pretrained(path)


def test_a_query_id_that_is_not_an_entry_excludes_nothing():
    keys = LearnedKeys(np.eye(3, dtype=np.float32), ["a", "b", "c"], [[1, 0], [0, 1], [1, 0]])
    found = keys.search(np.eye(3, dtype=np.float32)[:1], ["zzz"], 2)
    assert found.ids == [["a", "b"]]
    found = keys.search(np.eye(3, dtype=np.float32)[:1], ["a"], 2)
    assert found.ids == [["b", "c"]]


def test_learned_retrieval_needs_a_teacher_with_hidden_states():
    student = TransformerStudent(TransformerStudentOptions(retrieval="learned"))
    from retrikt_core.builtin.bow import BowTeacher

    with pytest.raises(ConfigError, match="student.retrieval"):
        student.check_teacher(BowTeacher)
    kshot, knowledge = make_data()
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    with pytest.raises(ValueError, match="teacher_states"):
        student.fit(TASK, kshot, knowledge, retriever, seed=0)


def test_a_run_with_learned_retrieval_evaluates_exports_and_predicts_with_its_keys(tmp_path):
    from retrikt_core.bundle import export_bundle, load_bundle
    from retrikt_core.bundle.additions import add_to_bundle
    from retrikt_core.inspection.predict import RunPredictor

    config = tmp_path / "learned.toml"
    data = write_sentiment_files(tmp_path / "data")
    config.write_text(task_section(data, k_shot=4) + LEARNED_RUN)
    run_dir = tmp_path / "run"
    pipeline = make_pipeline(config, run_dir)
    pipeline.run()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "accuracy" in metrics["methods"]["retrikt_student"]
    train = pipeline.manifest()["stages"]["train"]["counts"]["retrikt_student"]
    assert train["retrieval"] == "learned"
    export_bundle(run_dir, tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle", runtime="native")
    assert isinstance(bundle.retriever, StudentSpaceRetriever)
    queries = [Example("a great and warm film", id="q0"), Example("dull, flat and weak", id="q1")]
    predictor = RunPredictor(run_dir)
    assert isinstance(predictor.retriever, StudentSpaceRetriever)
    assert np.allclose(
        bundle.predict_proba(queries),
        predictor.student.predict_proba(queries, predictor.retriever.retrieve(queries)),
        atol=1e-6,
    )
    # Knowledge added to the bundle is encoded as the student's keys too;
    # the earlier keys keep their bytes.
    keys_file = tmp_path / "bundle" / "student" / KEYS_FILE
    before = np.load(keys_file)
    added = [Knowledge("zebra quantum harmonica", teacher_probs=(0.2, 0.8))]
    assert add_to_bundle(tmp_path / "bundle", added).added == 1
    after = np.load(keys_file)
    assert len(after) == len(before) + 1 and np.array_equal(after[: len(before)], before)
    bundle = load_bundle(tmp_path / "bundle", runtime="native")
    found = bundle.retriever.retrieve([Example("zebra quantum harmonica", id="q")])
    assert found.ids[0][0] == "add2-0000000"


# The fast components, with a teacher that has hidden states (a 2-layer
# random Llama) and a small tiny-transformer that learns to retrieve.
LEARNED_RUN = """
[run]
seed = 0

[generator]
plugin = "corpus"

[teacher]
plugin = "llm"
model = "tiny-random-llama"
virtual_tokens = 0

[optimizer]
plugin = "none"

[extract]
n_total = 40

[store]
plugin = "memory"
dim = 256

[retriever]
plugin = "knn"
k = 4

[student]
plugin = "tiny-transformer"
retrieval = "learned"
vocab_size = 200
d_model = 16
layers = 1
heads = 2
ff = 32
epochs = 2
batch_size = 16
max_length = 24
"""
