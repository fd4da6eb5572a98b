"""`retrikt predict` / RunPredictor: a finished run's student, reloaded,
reproduces the run's own predictions and explains them with neighbours."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from retrikt_core.cli import app
from retrikt_core.inspection import RunPredictor
from retrikt_core.records import Example
from retrikt_core.testing.runs import make_pipeline

runner = CliRunner()


def test_reloaded_student_matches_the_runs_predictions(small_run):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    rows = [
        json.loads(line)
        for line in (run_dir / "stages/evaluate/predictions.jsonl").read_text().splitlines()
    ]
    evaluation = [
        Example.from_dict(json.loads(line))
        for line in (run_dir / "stages/prepare/eval.jsonl").read_text().splitlines()
    ]
    for method in ("retrikt_student", "kd_student"):
        predictions = RunPredictor(run_dir, method).predict(evaluation)
        got = np.array(
            [[p.probabilities[n] for n in ("negative", "positive")] for p in predictions]
        )
        assert np.allclose(got, np.array([r[method] for r in rows]), atol=1e-9)
    explained = RunPredictor(run_dir).predict(evaluation[:2], top=2)
    assert all(len(p.neighbors) == 2 for p in explained)
    assert {"id", "score", "text", "teacher_label", "source"} <= set(explained[0].neighbors[0])


def test_predict_cli_text_and_file(small_run, tmp_path):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    result = runner.invoke(app, ["predict", str(run_dir), "a great and lovely film", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[0])
    assert row["label"] in ("negative", "positive") and len(row["neighbors"]) == 3
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "dull"}\n{"text": "warm and fun"}\n')
    result = runner.invoke(app, ["predict", str(run_dir), "--file", str(inputs), "--json"])
    assert result.exit_code == 0 and len(result.output.splitlines()) == 2


def test_predict_errors(small_run, tmp_path):
    result = runner.invoke(app, ["predict", str(tmp_path), "text"])
    assert result.exit_code == 2 and "is " in result.output and "a finished run" in result.output
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence": "x"}\n')
    result = runner.invoke(app, ["predict", str(run_dir), "--file", str(bad)])
    assert result.exit_code == 2 and "no 'text' field" in result.output
    # A null or empty text is refused, not labelled as the text "None".
    bad.write_text('{"text": "fine"}\n{"text": null}\n')
    result = runner.invoke(app, ["predict", str(run_dir), "--file", str(bad)])
    assert result.exit_code == 2, result.output
    assert "input 1: field 'text' must be text, got None" in result.output
    result = runner.invoke(app, ["predict", str(run_dir), " "])
    assert result.exit_code == 2 and "input 0: field 'text' is empty" in result.output


def test_predict_file_reads_a_tsv_as_the_tasks_do(small_run, tmp_path):
    """A TSV text that starts with a quote keeps it, and the rows after it stay rows."""
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    file = tmp_path / "q.tsv"
    file.write_text(
        'text\n"a great and moving film\nawful , messy script\nfun , sharp and lovely\n'
    )
    result = CliRunner().invoke(app, ["predict", str(run_dir), "--file", str(file), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in rows] == [
        '"a great and moving film',
        "awful , messy script",
        "fun , sharp and lovely",
    ]


def test_predict_refuses_a_sentence_pair_for_a_single_sentence_task(small_run, tmp_path):
    """A second sentence the student never saw would change its answer
    silently: a run, a bundle and the Python API refuse it, as serve does."""
    from retrikt_core.bundle import export_bundle, load_bundle
    from retrikt_core.errors import InputError

    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    bundle_dir = tmp_path / "bundle"
    export_bundle(run_dir, bundle_dir)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"text": "dull"}\n{"text": "a film", "text_pair": "a great one"}\n')
    for target in (run_dir, bundle_dir):
        for args in (["a film ||| a great one"], ["--file", str(pairs)]):
            result = runner.invoke(app, ["predict", str(target), *args])
            message = " ".join(result.output.split())
            assert result.exit_code == 2, message
            assert "this task takes single sentences" in message, message
    with pytest.raises(InputError, match="input 1: this task takes single sentences"):
        load_bundle(bundle_dir).predict(["dull", ("a film", "a great one")])
