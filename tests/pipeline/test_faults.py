"""Every file of a finished run and of a bundle, flipped or truncated in turn,
is refused with its name (or, for a file only a rerun reads, the stage is
computed again and the file named): a damaged artifact never gives a
silently wrong answer."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrikt_core.bundle import BundleError, export_bundle, load_bundle
from retrikt_core.cli import app
from retrikt_core.pipeline import RunDir
from retrikt_core.plugins import reset_plugins
from retrikt_core.testing.runs import (
    fast_config,
    make_pipeline,
    task_section,
    write_sentiment_files,
)

runner = CliRunner(env={"COLUMNS": "1000"})  # no line wraps inside paths
# Written for people, never read back by retrikt.
FOR_PEOPLE = {".lock", "report.md", "accuracy.png", "frontier.png", "stages.png"}
# Stages a bundle is made from: export checks their files.
EXPORTED = ("prepare", "train", "index", "evaluate")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(config, run dir) of a finished run on the fast built-in components."""
    root = tmp_path_factory.mktemp("faults")
    data = write_sentiment_files(root / "data")
    config = root / "config.toml"
    config.write_text(fast_config(task_section(data, k_shot=4), n_total=24))
    reset_plugins()
    make_pipeline(config, root / "run").run()
    return config, root / "run"


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def run_files(run_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in run_dir.rglob("*")
        if p.is_file() and p.name not in FOR_PEOPLE and ".partial" not in p.parts
    )


def test_the_run_has_files_to_damage(finished):
    _, run_dir = finished
    names = {p.relative_to(run_dir).as_posix() for p in run_files(run_dir)}
    assert {"manifest.json", "config.json", "metrics.json", "config.toml"} <= names
    assert any(n.startswith("stages/train/retrikt_student/") for n in names)
    assert len(names) > 20


@pytest.mark.parametrize("damage", [flip, truncate], ids=["flip", "truncate"])
def test_every_file_export_reads_is_refused_with_its_name(finished, tmp_path, damage):
    config, source = finished
    checked = 0
    for original in run_files(source):
        relative = original.relative_to(source)
        stage = relative.parts[1] if relative.parts[0] == "stages" else None
        if stage is not None and stage not in EXPORTED:
            continue  # only a rerun reads these: see the next test
        run_dir = tmp_path / f"run-{checked}"
        shutil.copytree(source, run_dir)
        damage(run_dir / relative)
        result = runner.invoke(app, ["export", str(run_dir), str(tmp_path / f"b-{checked}")])
        assert result.exit_code == 2, (relative, result.output)
        message = " ".join(result.output.split())
        assert message.startswith("error:"), (relative, message)
        assert "Traceback" not in result.output
        named = str(relative) in message or relative.name in message
        if relative.name == "manifest.json" and not named:
            # A damaged manifest may be read as one whose records name another file.
            assert "manifest" in message or "sha256" in message, message
        else:
            assert named, (relative, message)
        checked += 1
    assert checked > 12


def test_a_rerun_recomputes_a_stage_whose_file_changed_and_names_it(finished, tmp_path):
    config, source = finished
    messages: list[str] = []
    stages = ("teacher", "tune", "reinforce", "extract")
    for stage in stages:
        run_dir = tmp_path / stage
        shutil.copytree(source, run_dir)
        files = sorted(p for p in (run_dir / "stages" / stage).rglob("*") if p.is_file())
        flip(files[0])
        pipeline = make_pipeline(config, run_dir)
        pipeline.echo = messages.append
        # The same answers, recomputed.
        assert accuracies(pipeline.run()) == accuracies(RunDir(source).metrics())
        redone = [m for m in messages if f"↻ {stage}" in m]
        assert redone and files[0].name in redone[-1], messages
    assert len(messages) >= len(stages)


def accuracies(metrics: dict) -> dict[str, float]:
    return {method: row["accuracy"] for method, row in metrics["methods"].items()}


def test_predict_refuses_a_student_whose_weights_changed(finished, tmp_path):
    _, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    student = run_dir / "stages" / "train" / "retrikt_student"
    weights = sorted(p for p in student.iterdir() if p.name != "component.json")[0]
    flip(weights)
    result = runner.invoke(app, ["predict", str(run_dir), "a great film"])
    assert result.exit_code == 2 and weights.name in result.output, result.output


def test_an_interrupted_rerun_is_refused_by_predict_and_export(finished, tmp_path):
    """A new store option, then a kill before `train` finished: the new store
    must not be paired with the old student."""
    config, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    pipeline = make_pipeline(config, run_dir, ["store.dim=128"])
    pipeline.run(until_stage="index")  # the store is new, the students are not
    for args in (
        ["predict", str(run_dir), "a film"],
        ["export", str(run_dir), str(tmp_path / "b")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert re.search(r"stage '(train|evaluate)' was computed from an earlier 'index'", message)
    show = runner.invoke(app, ["show", str(run_dir)])
    assert show.exit_code == 0 and "stale" in show.output


def test_an_edited_config_is_refused_by_export(finished, tmp_path):
    _, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config["retriever"]["k"] = 2
    (run_dir / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["export", str(run_dir), str(tmp_path / "b")])
    assert result.exit_code == 2 and "config.json" in result.output, result.output


@pytest.mark.parametrize("content", [[1, 2], "config", None], ids=["list", "string", "null"])
def test_a_config_json_that_is_not_an_object_is_refused_by_name(finished, tmp_path, content):
    _, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    (run_dir / "config.json").write_text(json.dumps(content))
    for args in (
        ["export", str(run_dir), str(tmp_path / "b")],
        ["predict", str(run_dir), "a great film"],
    ):
        result = runner.invoke(app, args)
        message = " ".join(result.output.split())
        assert result.exit_code == 2 and message.startswith("error:"), message
        assert "config.json: holds" in message and "not a config object" in message, message


@pytest.mark.parametrize("damage", [flip, truncate], ids=["flip", "truncate"])
def test_every_file_of_a_bundle_is_refused_with_its_name(finished, tmp_path, damage):
    _, source = finished
    intact = tmp_path / "intact"
    export_bundle(source, intact)
    load_bundle(intact)
    files = sorted(p.relative_to(intact) for p in intact.rglob("*") if p.is_file())
    for i, relative in enumerate(files):
        bundle = tmp_path / f"b{i}"
        shutil.copytree(intact, bundle)
        damage(bundle / relative)
        with pytest.raises(BundleError) as error:
            load_bundle(bundle)
        message = str(error.value)
        assert str(relative) in message or relative.name in message, (relative, message)
    assert len(files) > 6


def test_a_run_without_file_records_still_names_a_damaged_file(finished, tmp_path):
    """Runs written before stages recorded their files cannot be checked
    ahead; a file that fails to load is still an error naming its folder."""
    _, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    run = RunDir(run_dir)
    manifest = run.manifest()
    for record in manifest["stages"].values():
        record.pop("files", None)
    run.write_manifest(manifest)
    student = run_dir / "stages" / "train" / "retrikt_student"
    weights = sorted(p for p in student.iterdir() if p.name != "component.json")[0]
    truncate(weights)
    result = runner.invoke(app, ["predict", str(run_dir), "a great film"])
    assert result.exit_code == 2, result.output
    assert "retrikt_student" in result.output and "Traceback" not in result.output


def test_a_manifest_without_checksum_whose_stage_record_is_not_an_object(finished, tmp_path):
    """A manifest written before checksums cannot show a hand edit by its
    checksum; a stage record of the wrong shape is still refused by name."""
    _, source = finished
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest.pop("checksum")
    manifest["stages"]["train"] = "finished"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    for args in (["show", str(run_dir)], ["predict", str(run_dir), "a film"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert "manifest.json" in message and "stage 'train'" in message, message
        assert "Traceback" not in result.output


def test_predict_names_a_file_it_cannot_read(finished, tmp_path):
    _, run_dir = finished
    text = tmp_path / "in.txt"
    text.write_text("a film\n")
    result = runner.invoke(app, ["predict", str(run_dir), "--file", str(text)])
    assert result.exit_code == 2 and "name it .jsonl, .csv, .tsv or .parquet" in result.output


def test_a_damaged_stage_cache_entry_is_dropped_and_the_stage_computed(finished, tmp_path):
    from retrikt_core.pipeline import StageCache

    config, source = finished
    cache = StageCache(tmp_path / "cache")
    record = RunDir(source).manifest()["stages"]["extract"]
    assert cache.put("extract", record["key"], source / "stages" / "extract", record, source)
    flip(cache.entry("extract", record["key"]) / "output" / "knowledge.jsonl")
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    shutil.rmtree(run_dir / "stages" / "extract")  # so the run asks the cache for it
    messages: list[str] = []
    pipeline = make_pipeline(config, run_dir)
    pipeline.stage_cache, pipeline.echo = cache, messages.append
    assert accuracies(pipeline.run()) == accuracies(RunDir(source).metrics())
    assert any("↻ extract" in m and "knowledge.jsonl" in m for m in messages), messages
    # Computed afresh and offered again: the entry is whole.
    assert (cache.entry("extract", record["key"]) / "entry.json").is_file()
    RunDir(run_dir).verify("extract")
