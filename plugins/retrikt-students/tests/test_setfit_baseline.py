"""The setfit_baseline method: SetFit trained in the run on the same k-shot
split as kshot_student, its metrics beside the others'; a run that asks for
it without the setfit extra stops before any stage, saying what to install."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from retrikt_core.errors import ConfigError
from retrikt_core.testing.runs import make_pipeline, write_config, write_sentiment_files

METHODS = 'methods = ["teacher", "kshot_student", "kd_student", "setfit_baseline"]'
SETFIT = f"""
[evaluate]
{METHODS}
[baseline]
plugin = "setfit"
iterations = 2
"""


def baseline_config(tmp_path, extra=SETFIT):
    """The small test run, its knowledge the unlabelled train split (no model)."""
    data = write_sentiment_files(tmp_path / "data")
    config = write_config(tmp_path / "run.toml", data, tmp_path / "run", extra)
    text = config.read_text().replace('plugin = "template"', 'plugin = "corpus"')
    config.write_text(text.replace("n_per_label = 40", "n_total = 40"))
    return config


def test_the_baseline_is_measured_beside_the_students(tmp_path, monkeypatch):
    pytest.importorskip("setfit", reason="the setfit extra is not installed")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    make_pipeline(baseline_config(tmp_path), tmp_path / "run").run()
    assert list((tmp_path / "cwd").iterdir()) == [], "nothing written where the run started"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    row = metrics["methods"]["setfit_baseline"]
    assert 0.0 <= row["accuracy"] <= 1.0
    assert row["params"] > 22_000_000, "all-MiniLM-L6-v2 and a logistic head"
    assert set(metrics["methods"]) == {"teacher", "kshot_student", "kd_student", "setfit_baseline"}
    train = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]["train"]
    kshot = (tmp_path / "run" / "stages" / "prepare" / "kshot.jsonl").read_text().splitlines()
    assert train["counts"]["setfit_baseline"]["examples"] == len(kshot), "the same k-shot split"


def test_without_setfit_the_run_stops_before_any_stage(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "setfit", None)  # as if not installed
    config = baseline_config(tmp_path, f"[evaluate]\n{METHODS}\n")
    with pytest.raises(ConfigError, match=r"baseline: .*retrikt-students\[setfit\]"):
        make_pipeline(config, tmp_path / "run").run()
    assert not (tmp_path / "run" / "stages").exists()


def test_changed_baseline_options_train_it_again_and_it_is_not_exported(tmp_path):
    pytest.importorskip("setfit", reason="the setfit extra is not installed")
    from retrikt_core.bundle.export import ExportOptions, export_bundle
    from retrikt_core.errors import BundleError

    config, run_dir = baseline_config(tmp_path), tmp_path / "run"
    make_pipeline(config, run_dir).run()
    before = json.loads((run_dir / "manifest.json").read_text())["stages"]
    make_pipeline(config, run_dir, ["baseline.iterations=3"]).run()
    after = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert after["train"]["key"] != before["train"]["key"], "[baseline] is part of train's key"
    assert after["extract"] == before["extract"]
    with pytest.raises(BundleError, match="--method setfit_baseline: .*kd_student"):
        export_bundle(run_dir, tmp_path / "bundle", ExportOptions(method="setfit_baseline"))


def test_a_baseline_section_without_the_method_needs_no_setfit(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "setfit", None)
    config = baseline_config(tmp_path, '[baseline]\nplugin = "setfit"\n')
    make_pipeline(config, tmp_path / "run").run()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "setfit_baseline" not in metrics["methods"]


def test_a_label_missing_from_the_kshot_split_keeps_its_own_column():
    pytest.importorskip("setfit", reason="the setfit extra is not installed")
    from retrikt_students.setfit_baseline import SetFitOptions, SetFitStudent

    from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
    from retrikt_core.records import Example

    task = FilesTask(FilesTaskOptions(label_names=["bad", "meh", "good"]))
    words = {0: ["awful", "dull", "boring", "bad"], 2: ["great", "lovely", "moving", "good"]}
    kshot = [
        Example(f"the film was {word}", label=label, id=f"k{label}{i}")
        for label in (0, 2)
        for i, word in enumerate(words[label])
    ]
    student = SetFitStudent(SetFitOptions(iterations=2))
    student.fit(task, kshot, [], None, seed=0)
    probs = np.array(student.predict_proba(kshot))
    assert probs.shape == (8, 3)
    assert np.allclose(probs[:, 1], 0.0), "no k-shot example of label 1: its column is 0"
    assert np.allclose(probs.sum(1), 1.0)
    assert (probs.argmax(1) == [e.label for e in kshot]).mean() >= 0.75


def test_setfit_is_refused_as_the_runs_student(tmp_path):
    config = baseline_config(tmp_path, "")
    text = config.read_text().replace('plugin = "bow-knn"', 'plugin = "setfit"')
    config.write_text(text.replace("dim = 512\nepochs = 40\n", ""))
    with pytest.raises(ConfigError, match="student.plugin: 'setfit' learns from the k-shot"):
        make_pipeline(config, tmp_path / "run").run()
