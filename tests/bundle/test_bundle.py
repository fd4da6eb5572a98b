"""Bundles: `retrikt export` writes a self-contained folder that loads in one
call (in a fresh process, offline, without the generator's libraries),
predicts exactly like the run, and refuses files that do not match."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from retrikt_core.bundle import (
    BUNDLE_DIGEST,
    BUNDLE_MANIFEST,
    BundleError,
    ExportOptions,
    export_bundle,
    load_bundle,
    push_to_hub,
    read_manifest,
)
from retrikt_core.bundle.load import digest_line
from retrikt_core.cli import app
from retrikt_core.records import Example
from retrikt_core.testing.runs import make_pipeline

runner = CliRunner()


def said(result) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


GENERATOR_LIBRARIES = ("peft", "gguf", "accelerate", "transformers")


@pytest.fixture
def finished_run(small_run):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    return run_dir


def run_predictions(run_dir, method):
    rows = (run_dir / "stages/evaluate/predictions.jsonl").read_text().splitlines()
    return np.array([json.loads(row)[method] for row in rows])


LOAD_AND_PREDICT = """
import json, sys
from retrikt_core.bundle import load_bundle
from retrikt_core.records import Example
bundle = load_bundle(sys.argv[1])
lines = open(sys.argv[2]).read().splitlines()
examples = [Example.from_dict(json.loads(line)) for line in lines if line]
predictions = bundle.predict(examples, top=2)
print(json.dumps({
    "probs": [[p.probabilities[n] for n in bundle.label_names] for p in predictions],
    "neighbors": [p.neighbors for p in predictions],
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[3])),
}))
"""


def load_in_subprocess(bundle_dir, eval_file, watched=GENERATOR_LIBRARIES + ("torch",)):
    """Load and predict in a fresh interpreter, offline; its result as a dict."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(bundle_dir), str(eval_file)]
        + [json.dumps(list(watched))],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("method", ["retrikt_student", "kd_student"])
def test_fresh_process_predicts_like_the_run(finished_run, tmp_path, method):
    bundle_dir = tmp_path / "bundle"
    manifest = export_bundle(finished_run, bundle_dir, ExportOptions(method=method))
    got = load_in_subprocess(bundle_dir, finished_run / "stages/prepare/eval.jsonl")
    assert np.allclose(np.array(got["probs"]), run_predictions(finished_run, method), atol=1e-9)
    # bow-knn + a memory store need numpy only: no generator library, not even torch.
    assert got["modules"] == []
    assert manifest.checks["native_vs_run"] < 1e-9
    if method == "retrikt_student":
        assert all(len(n) == 2 for n in got["neighbors"])
        assert {"id", "score", "text", "teacher_label"} <= set(got["neighbors"][0][0])
        assert manifest.retrieval.k == 4 and manifest.retrieval.lam is not None
        assert [s["name"] for s in manifest.stores] == ["memory"]
    else:
        assert got["neighbors"] == [[]] * len(got["probs"]) and manifest.stores == []
        assert not (bundle_dir / "stores").exists()


def test_bundle_layout_manifest_and_model_card(finished_run, tmp_path):
    bundle_dir = tmp_path / "bundle"
    export_bundle(finished_run, bundle_dir, ExportOptions(command="retrikt export RUN OUT"))
    manifest = read_manifest(bundle_dir)
    names = set(manifest.files)
    assert {"student/component.json", "stores/store/store.json", "config.json"} <= names
    assert {"README.md", "metrics.json"} <= names and BUNDLE_MANIFEST not in names
    assert manifest.runtimes == {"native": None} and manifest.default_runtime == "native"
    assert manifest.student["params"] > 0 and manifest.student["package"] == "retrikt-core"
    assert manifest.bytes_under("student") > 0 and manifest.stores[0]["bytes"] > 0
    card = (bundle_dir / "README.md").read_text()
    metrics = json.loads((finished_run / "metrics.json").read_text())
    rows = {line.split("|")[1].strip(): line for line in card.splitlines() if "|" in line}
    assert "**retrikt_student** (this bundle)" in rows
    for method, row in metrics["methods"].items():
        line = rows.get(method) or rows[f"**{method}** (this bundle)"]
        assert f"{row['accuracy']:.2%}" in line and f"{row['params']:,}" in line
        if "params_ratio_to_teacher" in row:
            assert f"{row['params_ratio_to_teacher']:.2%}" in line
    for needed in ("`negative`, `positive`", "`bow-lr`", "`template`", "retrikt export RUN OUT"):
        assert needed in card
    assert f"{manifest.stores[0]['entries']:,} entries" in card
    assert f"k = {manifest.retrieval.k}" in card


def test_predict_cli_accepts_a_bundle(finished_run, tmp_path):
    bundle_dir = tmp_path / "bundle"
    result = runner.invoke(app, ["export", str(finished_run), str(bundle_dir)])
    assert result.exit_code == 0, result.output
    assert "native (default)" in said(result) and "model card:" in said(result)
    result = runner.invoke(app, ["predict", str(bundle_dir), "a great and lovely film", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert row["label"] in ("negative", "positive") and len(row["neighbors"]) == 3
    direct = load_bundle(bundle_dir).predict(["a great and lovely film"])[0]
    assert row["probabilities"] == direct.probabilities
    result = runner.invoke(app, ["predict", str(bundle_dir), "x", "--method", "kd_student"])
    assert result.exit_code == 2 and "is a bundle of retrikt_student" in said(result)
    kd_dir = tmp_path / "kd"
    export_bundle(finished_run, kd_dir, ExportOptions(method="kd_student"))
    result = runner.invoke(app, ["predict", str(kd_dir), "a great and lovely film", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["neighbors"] == []
    result = runner.invoke(app, ["predict", str(bundle_dir), "x", "--runtime", "onnx"])
    assert result.exit_code == 2 and "has no 'onnx' runtime" in said(result)
    result = runner.invoke(app, ["predict", str(finished_run), "x", "--runtime", "onnx"])
    assert result.exit_code == 2 and "only bundles" in said(result)


def corrupt_missing(bundle_dir):
    (bundle_dir / "stores/store/keys.npy").unlink()
    return "stores/store/keys.npy", "missing (listed in bundle.json)"


def corrupt_truncated(bundle_dir):
    path = bundle_dir / "student/weights.npz"
    path.write_bytes(path.read_bytes()[:-10])
    return "student/weights.npz", "(truncated)"


def corrupt_swapped(bundle_dir):
    path = bundle_dir / "stores/store/entries.jsonl"
    data = bytearray(path.read_bytes())
    data[5] = ord("X") if data[5] != ord("X") else ord("Y")  # same size, other bytes
    path.write_bytes(bytes(data))
    return "stores/store/entries.jsonl", "sha256 does not match bundle.json"


def rewrite_manifest(bundle_dir, text):
    """Edit bundle.json and its digest together, as a tool that means it would:
    what stays to catch is the structure."""
    (bundle_dir / BUNDLE_MANIFEST).write_text(text)
    (bundle_dir / BUNDLE_DIGEST).write_text(digest_line(bundle_dir / BUNDLE_MANIFEST))


def corrupt_labels_swapped(bundle_dir):
    manifest = json.loads((bundle_dir / BUNDLE_MANIFEST).read_text())
    manifest["task"]["label_names"].reverse()
    (bundle_dir / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    return BUNDLE_MANIFEST, "sha256 does not match bundle.sha256"


def corrupt_no_digest(bundle_dir):
    (bundle_dir / BUNDLE_DIGEST).unlink()
    return BUNDLE_DIGEST, "missing"


def corrupt_unlisted(bundle_dir):
    manifest = json.loads((bundle_dir / BUNDLE_MANIFEST).read_text())
    del manifest["files"]["student/component.json"]
    rewrite_manifest(bundle_dir, json.dumps(manifest))
    return BUNDLE_MANIFEST, "does not list student/component.json"


def corrupt_manifest_json(bundle_dir):
    rewrite_manifest(bundle_dir, (bundle_dir / BUNDLE_MANIFEST).read_text()[:100])
    return BUNDLE_MANIFEST, "not valid JSON"


def corrupt_no_manifest(bundle_dir):
    (bundle_dir / BUNDLE_MANIFEST).unlink()
    return BUNDLE_MANIFEST, "missing; not a retrikt bundle"


def corrupt_escape(bundle_dir):
    manifest = json.loads((bundle_dir / BUNDLE_MANIFEST).read_text())
    manifest["files"]["../outside"] = {"bytes": 1, "sha256": "0" * 64}
    rewrite_manifest(bundle_dir, json.dumps(manifest))
    return BUNDLE_MANIFEST, "outside the bundle: '../outside'"


@pytest.mark.parametrize(
    "corrupt",
    [
        corrupt_missing,
        corrupt_truncated,
        corrupt_swapped,
        corrupt_unlisted,
        corrupt_manifest_json,
        corrupt_no_manifest,
        corrupt_escape,
        corrupt_labels_swapped,
        corrupt_no_digest,
    ],
)
def test_a_corrupt_bundle_is_refused_naming_the_file(finished_run, tmp_path, corrupt):
    bundle_dir = tmp_path / "bundle"
    export_bundle(finished_run, bundle_dir)
    load_bundle(bundle_dir)  # intact: loads
    name, why = corrupt(bundle_dir)
    with pytest.raises(BundleError) as error:
        load_bundle(bundle_dir)
    assert str(bundle_dir / name) in str(error.value) and why in str(error.value)
    result = runner.invoke(app, ["predict", str(bundle_dir), "a film"])
    if corrupt is not corrupt_no_manifest:  # without bundle.json it is read as a run dir
        assert result.exit_code == 2 and why in said(result)


def _edit(key, value):
    def apply(manifest):
        *path, last = key.split(".") if isinstance(key, str) else key  # a tuple: keys with dots
        holder = manifest
        for part in path:
            holder = holder[part]
        if value is DELETE:
            del holder[last]
        else:
            holder[last] = value(holder[last]) if callable(value) else value

    return apply


DELETE = object()


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("retrieval.k", 0, "retrieval.k is 0; expected an integer >= 1"),
        ("retrieval.k", "x", "retrieval.k is 'x'"),
        ("retrieval", DELETE, "retrieval is None; a bundle with stores has it"),
        ("retrieval.lam", 5, "retrieval.lam is 5; expected a number in [0, 1]"),
        ("retrieval.knn_temperature", float("nan"), "retrieval.knn_temperature is nan"),
        ("retrieval.knn_temperature", 0, "retrieval.knn_temperature is 0"),
        ("retrieval.retriever.kk", 3, "retrieval.retriever.kk: unknown option"),
        ("retrieval.retriever.k", 2.5, "retrieval.retriever.k: expected an integer"),
        ("task.label_names", lambda names: names + ["other"], "names 3 labels; the student"),
        ("task.label_names", lambda names: names[:1], "task.label_names is ['negative']"),
        ("default_runtime", "onnx", "default_runtime is 'onnx'; has native"),
        ("default_runtime", ["native"], "default_runtime is ['native']; has native"),
        ("task.label_names", ["a", "a"], "expected distinct label names"),
        ("task.is_pair", "no", "task.is_pair is 'no'; expected true or false"),
        ("student", "student", "student is 'student'; expected an object with a dir"),
        ("student.dir", DELETE, "student is {'name'"),
        ("stores", "store", "stores is 'store'; expected a list of objects"),
        ("stores", ["store"], "stores[0] is 'store'; expected an object with a dir"),
        ("runtimes", ["native"], "runtimes is ['native']; expected an object"),
        (("files", "README.md", "bytes"), str, "files['README.md'].bytes is '"),
    ],
)
def test_a_rehashed_manifest_with_bad_settings_is_refused(finished_run, tmp_path, key, value, why):
    """bundle.json edited and its digest written again: every setting is still
    checked, so a bad one is an error naming it, never a traceback or a
    student that silently stops retrieving."""
    bundle_dir = tmp_path / "bundle"
    export_bundle(finished_run, bundle_dir)
    manifest = json.loads((bundle_dir / BUNDLE_MANIFEST).read_text())
    _edit(key, value)(manifest)
    rewrite_manifest(bundle_dir, json.dumps(manifest))
    with pytest.raises(BundleError, match=re.escape(why)):
        load_bundle(bundle_dir)
    result = runner.invoke(app, ["predict", str(bundle_dir), "a film"])
    assert result.exit_code == 2 and why in said(result), said(result)


def test_a_file_from_another_bundle_is_refused(finished_run, tmp_path):
    """A file of the same name from another bundle is a mismatch, not a student."""
    first, second = tmp_path / "first", tmp_path / "second"
    export_bundle(finished_run, first)
    export_bundle(finished_run, second, ExportOptions(method="kshot_student"))
    swapped = (second / "student/weights.npz").read_bytes()
    assert swapped != (first / "student/weights.npz").read_bytes()
    (first / "student/weights.npz").write_bytes(swapped)
    with pytest.raises(BundleError, match=r"student/weights\.npz: sha256 does not match"):
        load_bundle(first)


def test_export_refusals(finished_run, tmp_path):
    with pytest.raises(BundleError, match=r"manifest\.json: missing; is .* a finished run"):
        export_bundle(tmp_path / "nothing", tmp_path / "b1")
    with pytest.raises(BundleError, match="bow-knn.* has no ONNX export"):
        export_bundle(finished_run, tmp_path / "b2", ExportOptions(onnx=True))
    assert not (tmp_path / "b2").exists() and not (tmp_path / "b2.partial").exists()
    with pytest.raises(BundleError, match="--quantize 'int4'"):
        export_bundle(finished_run, tmp_path / "b3", ExportOptions(quantize="int4"))
    other = tmp_path / "not-a-bundle"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="exists and is not a bundle"):
        export_bundle(finished_run, other, ExportOptions(overwrite=True))
    assert (other / "keep.txt").read_text() == "mine"
    export_bundle(finished_run, tmp_path / "b4")
    with pytest.raises(BundleError, match="already holds a bundle; pass --overwrite"):
        export_bundle(finished_run, tmp_path / "b4")
    export_bundle(finished_run, tmp_path / "b4", ExportOptions(overwrite=True))
    result = runner.invoke(app, ["export", str(finished_run), str(tmp_path / "b5"), "--onnx"])
    assert result.exit_code == 2 and "has no ONNX export" in said(result)


def test_push_to_hub_checks_the_bundle_then_uploads_the_folder(finished_run, tmp_path, monkeypatch):
    """With a stand-in for huggingface_hub: no network is touched."""
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return types.SimpleNamespace(commit_url=f"https://hub/{kwargs['repo_id']}/commit/1")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(HfApi=FakeApi))
    bundle_dir = tmp_path / "bundle"
    export_bundle(finished_run, bundle_dir)
    url = push_to_hub(bundle_dir, "me/sentiment", token="t", private=True)
    assert url == "https://hub/me/sentiment/commit/1"
    assert calls[1] == (
        "create_repo",
        "me/sentiment",
        {"repo_type": "model", "private": True, "exist_ok": True},
    )
    upload = calls[2][1]
    assert upload["folder_path"] == str(bundle_dir) and upload["repo_id"] == "me/sentiment"
    calls.clear()
    (bundle_dir / "README.md").write_text("edited")
    with pytest.raises(BundleError, match="README.md"):
        push_to_hub(bundle_dir, "me/sentiment")
    assert not any(c[0] == "upload_folder" for c in calls)


def test_a_hybrid_run_exports_both_stores_in_order(small_run, tmp_path):
    config, run_dir, _ = small_run
    second = '\n[second_store]\nplugin = "memory"\ndim = 64\nngram = 1\n'
    config.write_text(config.read_text().replace('plugin = "knn"', 'plugin = "hybrid"') + second)
    make_pipeline(config, run_dir).run()
    manifest = export_bundle(run_dir, tmp_path / "bundle")
    assert [s["dir"] for s in manifest.stores] == ["stores/store", "stores/second_store"]
    assert manifest.retrieval.retriever["plugin"] == "hybrid"
    assert manifest.checks["native_vs_run"] < 1e-9
    bundle = load_bundle(tmp_path / "bundle")
    assert len(bundle.retriever.stores) == 2
    lines = (run_dir / "stages/prepare/eval.jsonl").read_text().splitlines()
    examples = [Example.from_dict(json.loads(line)) for line in lines]
    expected = run_predictions(run_dir, "retrikt_student")
    assert np.allclose(bundle.predict_proba(examples), expected, atol=1e-9)


def test_the_retrieval_settings_bundle_json_records_are_the_ones_used(finished_run, tmp_path):
    bundle_dir = tmp_path / "bundle"
    export_bundle(finished_run, bundle_dir)
    bundle = load_bundle(bundle_dir)
    assert bundle.student.lam == bundle.manifest.retrieval.lam
    manifest = json.loads((bundle_dir / BUNDLE_MANIFEST).read_text())
    manifest["retrieval"]["lam"] = 1.0  # retrieval alone
    rewrite_manifest(bundle_dir, json.dumps(manifest))
    edited = load_bundle(bundle_dir)
    assert edited.student.lam == 1.0
    assert edited.predict_proba(["a film"]) != bundle.predict_proba(["a film"])
