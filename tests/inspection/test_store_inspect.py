"""`retrikt store inspect`: what a run's store holds and what a query retrieves."""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from retrikt_core.cli import app
from retrikt_core.inspection import RunStores
from retrikt_core.records import Knowledge
from retrikt_core.testing.runs import make_pipeline

runner = CliRunner()


def test_inspect_reports_what_the_knowledge_file_holds(small_run):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    lines = (run_dir / "stages" / "extract" / "knowledge.jsonl").read_text().splitlines()
    knowledge = [Knowledge.from_dict(json.loads(line)) for line in lines]
    result = runner.invoke(
        app,
        ["store", "inspect", str(run_dir), "--json", "--samples", "2", "--query", "great film"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    (summary,) = payload["stores"]
    labels = ["negative", "positive"]
    assert summary["entries"] == len(knowledge)
    assert summary["teacher_labels"] == dict(Counter(labels[k.teacher_label] for k in knowledge))
    agree = sum(k.teacher_label == k.requested_label for k in knowledge) / len(knowledge)
    assert summary["label_consistency"] == agree
    assert len(summary["samples"]) == 2
    assert summary["bytes"] > 0
    (query,) = payload["queries"]
    nearest = query["nearest"]["store"]
    assert 0 < len(nearest) <= 5
    assert [n["score"] for n in nearest] == sorted((n["score"] for n in nearest), reverse=True)


def test_inspect_lists_both_stores_and_a_readable_table(small_run):
    config, run_dir, _ = small_run
    config.write_text(config.read_text() + '\n[second_store]\nplugin = "memory"\ndim = 64\n')
    make_pipeline(config, run_dir).run()
    assert list(RunStores(run_dir).stores) == ["store", "second_store"]
    result = runner.invoke(app, ["store", "inspect", str(run_dir), "--query", "dull film"])
    assert result.exit_code == 0, result.output
    assert "[store] memory" in result.output and "[second_store] memory" in result.output
    assert "nearest to dull film" in result.output


def test_inspect_refuses_a_directory_without_an_index(tmp_path):
    result = runner.invoke(app, ["store", "inspect", str(tmp_path)])
    assert result.exit_code == 2
    assert "index" in result.output


def test_inspect_on_a_bundle_says_it_takes_a_run(tmp_path):
    (tmp_path / "bundle.json").write_text("{}")
    result = runner.invoke(app, ["store", "inspect", str(tmp_path)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "a bundle, not a run" in said and "retrikt predict BUNDLE TEXT" in said
