"""The tiny transformer student: retrieval-aware training, self-exclusion,
interpolation consistency, save/load/predict, and a pipeline run."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.interpolation import knn_distribution
from retrikt_core.records import Example, Knowledge, Neighbors

TASK = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
WORDS = {0: ["dull", "bad", "boring", "weak", "flat"], 1: ["great", "fun", "warm", "sharp", "good"]}
SMALL = dict(
    vocab_size=200, d_model=32, layers=1, heads=2, ff=64, epochs=12, batch_size=16, lr=0.005
)


def make_data(seed=0):
    rng = random.Random(seed)

    def sentence(label):
        return f"the film was {rng.choice(WORDS[label])} and {rng.choice(WORDS[label])}"

    kshot = [Example(sentence(i % 2), label=i % 2, id=f"k{i}") for i in range(8)]
    knowledge = []
    for i in range(120):
        label = i % 2
        probs = (0.9, 0.1) if label == 0 else (0.1, 0.9)
        knowledge.append(
            Knowledge(
                text=sentence(label), requested_label=label, teacher_probs=probs, id=f"kn-{i}"
            )
        )
    evaluation = [Example(sentence(i % 2), label=i % 2, id=f"e{i}") for i in range(40)]
    return kshot, knowledge, evaluation


def retriever_over(knowledge):
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever()
    retriever.bind([store])
    return retriever


class SpyRetriever(KnnRetriever):
    """Records, for each query, whether its own id came back among its neighbours."""

    self_hits = 0
    queries = 0

    def retrieve(self, examples, k=None):
        result = super().retrieve(examples, k)
        for example, ids in zip(examples, result.ids, strict=True):
            SpyRetriever.queries += 1
            SpyRetriever.self_hits += example.id in ids
        return result


def test_retrieval_student_learns_and_learns_lambda():
    kshot, knowledge, evaluation = make_data()
    student = TransformerStudent(TransformerStudentOptions(**SMALL))
    stats = student.fit(TASK, kshot, knowledge, retriever_over(knowledge), seed=0)
    assert stats["last_loss"] < stats["first_loss"]
    assert 0.0 < stats["lam"] < 1.0 and stats["knn_temperature"] > 0
    retriever = retriever_over(knowledge)
    probs = np.array(student.predict_proba(evaluation, retriever.retrieve(evaluation)))
    accuracy = (probs.argmax(1) == np.array([e.label for e in evaluation])).mean()
    assert accuracy >= 0.9


class OracleRetriever(KnnRetriever):
    """Neighbours that carry each query's own label: the only signal there is
    when every input reads the same."""

    def __init__(self, labels):
        super().__init__()
        self.labels = labels

    def retrieve(self, examples, k=None):
        rows = [[1.0 - self.labels[e.id], float(self.labels[e.id])] for e in examples]
        return Neighbors([["n"]] * len(examples), [[1.0]] * len(examples), [[r] for r in rows])


@pytest.mark.parametrize("mix_lr", [0.0, 0.05])
def test_lambda_is_learned_at_its_own_rate(mix_lr):
    # Identical inputs: the student alone cannot beat chance, the neighbours are
    # always right, so a learned lam must rise towards 1. At mix_lr 0 it stays at
    # its start, 0.5; at the student's own lr it would barely move.
    kshot = [Example("same words", label=i % 2, id=f"k{i}") for i in range(8)]
    knowledge = [
        Knowledge(
            text="same words", requested_label=i % 2, teacher_probs=(1.0 - i % 2, i % 2), id=f"n{i}"
        )
        for i in range(56)
    ]
    labels = {e.id: e.label for e in kshot} | {k.id: k.requested_label for k in knowledge}
    options = TransformerStudentOptions(**{**SMALL, "mix_lr": mix_lr})
    stats = TransformerStudent(options).fit(TASK, kshot, knowledge, OracleRetriever(labels), seed=0)
    if mix_lr == 0:
        assert stats["lam"] == pytest.approx(0.5)
    else:
        assert stats["lam"] > 0.8


def test_training_neighbours_exclude_the_entry_itself():
    kshot, knowledge, _ = make_data()
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    spy = SpyRetriever()
    spy.bind([store])
    SpyRetriever.self_hits = SpyRetriever.queries = 0
    TransformerStudent(TransformerStudentOptions(**{**SMALL, "epochs": 1})).fit(
        TASK, kshot, knowledge, spy, seed=0
    )
    assert SpyRetriever.queries == len(kshot) + len(knowledge)
    assert SpyRetriever.self_hits == 0


def test_training_mixture_equals_the_core_interpolation():
    kshot, knowledge, evaluation = make_data()
    student = TransformerStudent(TransformerStudentOptions(**SMALL))
    retriever = retriever_over(knowledge)
    student.fit(TASK, kshot, knowledge, retriever, seed=0)
    neighbors = retriever.retrieve(evaluation)
    from retrikt_students.training import _neighbor_tensors

    with torch.no_grad():
        torch_knn = student._knn(*_neighbor_tensors(neighbors, 2)).numpy()
    core_knn, _ = knn_distribution(neighbors, 2, student.knn_temperature)
    assert np.allclose(torch_knn, core_knn, atol=1e-5)


def test_without_retriever_no_interpolation_is_learned():
    kshot, knowledge, evaluation = make_data()
    student = TransformerStudent(TransformerStudentOptions(**SMALL))
    stats = student.fit(TASK, kshot, knowledge, None, seed=0)
    assert "lam" not in stats
    assert student.predict_proba(evaluation) == student.predict_proba(evaluation, None)


def test_save_load_predict_round_trip(tmp_path):
    kshot, knowledge, evaluation = make_data()
    retriever = retriever_over(knowledge)
    student = TransformerStudent(TransformerStudentOptions(**SMALL))
    student.fit(TASK, kshot, knowledge, retriever, seed=0)
    student.save_pretrained(tmp_path / "s")
    assert (tmp_path / "s" / "model.safetensors").is_file()
    loaded = TransformerStudent.from_pretrained(tmp_path / "s")
    neighbors = retriever.retrieve(evaluation)
    assert np.allclose(
        loaded.predict_proba(evaluation, neighbors),
        student.predict_proba(evaluation, neighbors),
        atol=1e-6,
    )
    assert loaded.num_parameters() == student.num_parameters()
    assert (loaded.lam, loaded.knn_temperature) == (student.lam, student.knn_temperature)


def test_default_size_is_about_one_percent_of_smollm2():
    kshot, knowledge, _ = make_data()
    student = TransformerStudent()
    from retrikt_students.vocab import Vocab

    student._build(Vocab([f"w{i}" for i in range(8000)]), 2)
    ratio = student.num_parameters() / 134_515_008
    assert 0.005 < ratio < 0.02, ratio


@pytest.mark.parametrize("pair", [False, True])
def test_encode_returns_unit_vectors(pair):
    kshot, knowledge, evaluation = make_data()
    if pair:
        evaluation = [Example(e.text, "a second text", e.label, e.id) for e in evaluation]
    student = TransformerStudent(TransformerStudentOptions(**{**SMALL, "epochs": 1}))
    student.fit(TASK, kshot, knowledge, None, seed=0)
    vectors = np.array(student.encode(evaluation))
    assert vectors.shape == (40, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# Every stage of a run, fast: corpus knowledge, bow-lr teacher, a tiny student.
TINY_RUN = """
[generator]
plugin = "corpus"
[teacher]
plugin = "bow-lr"
dim = 512
epochs = 50
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
vocab_size = 100
d_model = 16
layers = 1
heads = 2
ff = 32
epochs = 3
"""


def test_pipeline_run_with_the_tiny_transformer(tmp_path, monkeypatch):
    """All four methods through `retrikt run`, the student from this plugin."""
    import json

    from retrikt_core.plugins import reset_plugins
    from retrikt_core.testing.runs import run_config, task_section, write_sentiment_csv

    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    reset_plugins()
    data = write_sentiment_csv(tmp_path / "data", n_train=60, n_eval=20)
    metrics = run_config(
        task_section(data, k_shot=4) + TINY_RUN,
        tmp_path / "run",
        tmp_path,
    )
    methods = metrics["methods"]
    assert set(methods) == {"teacher", "kshot_student", "kd_student", "retrikt_student"}
    assert methods["retrikt_student"]["params"] == methods["kd_student"]["params"]
    assert methods["retrikt_student"]["params_ratio_to_teacher"] > 0
    counts = json.loads((tmp_path / "run/manifest.json").read_text())["stages"]["train"]["counts"]
    assert "lam" in counts["retrikt_student"] and "lam" not in counts["kd_student"]
    reset_plugins()


HIDDEN_RUN = TINY_RUN + "hidden_weight = 1.0\n"


def test_pipeline_hands_teacher_states_to_a_student_that_matches_them(tmp_path, monkeypatch):
    import json

    from retrikt_core.builtin.bow import BowTeacher
    from retrikt_core.config import ConfigError, load_toml, validate
    from retrikt_core.pipeline import Pipeline
    from retrikt_core.plugins import get_plugins, reset_plugins
    from retrikt_core.testing.runs import run_config, task_section, write_sentiment_csv

    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    reset_plugins()
    data = write_sentiment_csv(tmp_path / "data", n_train=60, n_eval=20)
    text = task_section(data, k_shot=4) + HIDDEN_RUN
    (tmp_path / "config.toml").write_text(text)
    plugins = get_plugins()
    config = validate(load_toml(tmp_path / "config.toml"), plugins.registry)
    # bow-lr has no hidden states: refused before any stage runs.
    refused = "student.hidden_weight: student 'tiny-transformer' .* teacher 'bow-lr' has none"
    with pytest.raises(ConfigError, match=refused):
        Pipeline(config, plugins, tmp_path / "refused").check()

    seen = []

    def embed(self, examples):
        seen.extend(e.text for e in examples)
        return [[float(len(e.text)), float(e.text.count("e")), 1.0] for e in examples]

    monkeypatch.setattr(BowTeacher, "embed", embed, raising=False)
    Pipeline(config, plugins, tmp_path / "checked").check()
    run_config(text, tmp_path / "run", tmp_path)
    stages = json.loads((tmp_path / "run/manifest.json").read_text())["stages"]
    counts = stages["train"]["counts"]
    knowledge = (tmp_path / "run/stages/extract/knowledge.jsonl").read_text().splitlines()
    assert counts["teacher_states"] == [len(knowledge), 3]
    assert seen == [json.loads(line)["text"] for line in knowledge]  # once, in store order
    assert "hidden_match" in counts["kd_student"] and "hidden_match" in counts["retrikt_student"]
    assert "hidden_match" not in counts["kshot_student"]  # k-shot labels only
    reset_plugins()


def test_length_buckets_pad_less_and_still_cover_every_input_once():
    from retrikt_students.training import epoch_batches

    rng = random.Random(0)
    lengths = [rng.randint(3, 120) for _ in range(640)]
    plain = epoch_batches(list(range(640)), lengths, 32, 0, random.Random(1))
    bucketed = epoch_batches(list(range(640)), lengths, 32, 5, random.Random(1))
    for batches in (plain, bucketed):
        assert sorted(i for b in batches for i in b) == list(range(640))
        assert all(len(b) == 32 for b in batches)

    def padded(batches):  # tokens a batch is padded to, summed over the epoch
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    assert padded(bucketed) < 0.7 * padded(plain)  # measured: 46,496 against 75,744
    # The batches are shuffled, not served shortest first.
    means = [np.mean([lengths[i] for i in b]) for b in bucketed]
    assert means != sorted(means)


def test_without_buckets_the_epochs_reshuffle_one_order():
    """length_buckets = 0 keeps the earlier batching exactly: one order,
    reshuffled in place every epoch, cut in turn."""
    from retrikt_students.training import epoch_batches

    order, rng = list(range(10)), random.Random(3)
    expected, reference = [], random.Random(3)
    kept = list(range(10))
    for _ in range(3):
        reference.shuffle(kept)
        expected.append([kept[i : i + 4] for i in range(0, 10, 4)])
    assert [epoch_batches(order, [1] * 10, 4, 0, rng) for _ in range(3)] == expected


def test_a_bucketed_student_trains_as_well():
    kshot, knowledge, evaluation = make_data()
    student = TransformerStudent(TransformerStudentOptions(**SMALL, length_buckets=2))
    student.fit(TASK, kshot, knowledge, None, seed=0)
    probs = np.array(student.predict_proba(evaluation))
    accuracy = (probs.argmax(1) == [e.label for e in evaluation]).mean()
    assert accuracy >= 0.9
