"""A run can index its knowledge into two stores and fuse them (hybrid), and
the teacher's eval scores are computed once, in the teacher stage."""

from __future__ import annotations

import json

import pytest

from retrikt_core.config import ConfigError
from retrikt_core.inspection import RunPredictor
from retrikt_core.testing.runs import make_pipeline

HYBRID = """
[second_store]
plugin = "memory"
dim = 64
ngram = 1
"""


def test_second_store_is_indexed_and_fused(small_run):
    config, run_dir, _ = small_run
    config.write_text(config.read_text().replace('plugin = "knn"', 'plugin = "hybrid"') + HYBRID)
    metrics = make_pipeline(config, run_dir).run()
    index = run_dir / "stages" / "index"
    assert (index / "store").is_dir() and (index / "second_store").is_dir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    counts = manifest["stages"]["index"]["counts"]
    kept = manifest["stages"]["extract"]["counts"]["kept"]
    # Both stores hold every entry; the run reports the entries once.
    assert counts["entries"] == kept
    assert metrics["methods"]["retrikt_student"]["store_entries"] == kept
    assert counts["second_store"]["bytes"] > 0
    assert counts["bytes"] > counts["second_store"]["bytes"]

    predictor = RunPredictor(run_dir)
    assert len(predictor.retriever.stores) == 2
    from retrikt_core.records import Example

    prediction = predictor.predict([Example(text="a great and warm film")])[0]
    assert prediction.neighbors, "fused neighbours come back with the prediction"


def test_second_store_plugin_is_validated(small_run):
    config, run_dir, _ = small_run
    config.write_text(config.read_text() + '\n[second_store]\nplugin = "nope"\n')
    with pytest.raises(ConfigError, match=r"second_store\.plugin"):
        make_pipeline(config, run_dir)
    config.write_text(config.read_text().replace('"nope"', '"memory"\nbogus = 1'))
    with pytest.raises(ConfigError, match=r"second_store\.bogus"):
        make_pipeline(config, run_dir)


def test_adding_a_second_store_reruns_from_index(small_run):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    before = json.loads((run_dir / "manifest.json").read_text())["stages"]
    config.write_text(config.read_text() + HYBRID)
    make_pipeline(config, run_dir).run()
    after = json.loads((run_dir / "manifest.json").read_text())["stages"]
    for stage in ("prepare", "teacher", "tune", "reinforce", "extract"):
        assert after[stage]["key"] == before[stage]["key"], stage
    assert after["index"]["key"] != before["index"]["key"]


def test_teacher_is_scored_once_in_the_teacher_stage(small_run):
    config, run_dir, _ = small_run
    first = make_pipeline(config, run_dir).run()
    cached = json.loads((run_dir / "stages" / "teacher" / "eval_predictions.json").read_text())
    predictions = [
        json.loads(line)
        for line in (run_dir / "stages" / "evaluate" / "predictions.jsonl").read_text().split("\n")
        if line
    ]
    assert [p["teacher"] for p in predictions] == cached["probs"]
    teacher_key = json.loads((run_dir / "manifest.json").read_text())["stages"]["teacher"]["key"]
    # A student change reruns train and evaluate only; the teacher row is the same.
    second = make_pipeline(config, run_dir, ["student.epochs=3"]).run()
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert first["methods"]["teacher"] == second["methods"]["teacher"]
    assert stages["teacher"]["key"] == teacher_key
    assert stages["train"]["status"] == "finished"
    # Dropping the teacher from the methods skips its eval scoring.
    make_pipeline(config, run_dir, ['evaluate.methods=["kshot_student","retrikt_student"]']).run()
    assert not (run_dir / "stages" / "teacher" / "eval_predictions.json").exists()
