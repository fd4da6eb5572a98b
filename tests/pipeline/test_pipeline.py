"""The staged pipeline end to end on tiny components: resume, partial reruns,
interruption, outputs."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrikt_core.config import ConfigError, load_toml
from retrikt_core.pipeline import STAGE_NAMES, RunDir
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.runs import make_pipeline


def started(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line.split()[1] for line in log.read_text().splitlines() if line.startswith("started")]


def test_full_run_writes_metrics_report_and_manifest(small_run):
    config, run_dir, log = small_run
    metrics = make_pipeline(config, run_dir).run()
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert on_disk["task"] == "files"
    assert set(on_disk["methods"]) == {"teacher", "kshot_student", "kd_student", "retrikt_student"}
    for row in on_disk["methods"].values():
        assert 0.0 <= row["accuracy"] <= 1.0
        assert isinstance(row["params"], int) and row["params"] > 0
        assert row["examples_per_s"] > 0
    retrieving = on_disk["methods"]["retrikt_student"]
    assert retrieving["store_entries"] == 80 and retrieving["store_bytes"] > 0
    # The memory store's hashed keys need no parameters: same count as the KD student.
    assert retrieving["params"] == on_disk["methods"]["kd_student"]["params"]
    # Template knowledge is cleanly separable: retrieval-trained students learn it.
    assert on_disk["methods"]["retrikt_student"]["accuracy"] >= 0.8
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert list(manifest["stages"]) == list(STAGE_NAMES)
    for record in manifest["stages"].values():
        assert record["status"] == "finished"
        assert record["seconds"] >= 0 and record["key"] and record["config_hash"]
    assert manifest["stages"]["extract"]["counts"]["kept"] == 80
    rows = [
        json.loads(line)
        for line in (run_dir / "stages/extract/knowledge.jsonl").read_text().splitlines()
    ]
    agree = [
        max(range(2), key=r["teacher_probs"].__getitem__) == r["requested_label"] for r in rows
    ]
    assert manifest["stages"]["extract"]["counts"]["label_consistency"] == sum(agree) / len(rows)
    report = (run_dir / "report.md").read_text()
    assert "student + retrieval (RetriKT)" in report and "## Stages" in report
    if importlib.util.find_spec("matplotlib"):
        assert "![frontier.png](frontier.png)" in report  # accuracy against parameters
        assert (run_dir / "frontier.png").stat().st_size > 0
    assert started(log) == list(STAGE_NAMES)  # lifecycle hooks fired once per stage


def test_rerun_skips_everything_unchanged(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    make_pipeline(config, run_dir).run()
    assert started(log) == []


def test_changed_student_option_reruns_only_train_and_evaluate(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    make_pipeline(config, run_dir, ["student.epochs=20"]).run()
    assert started(log) == ["train", "evaluate"]


def test_changed_teacher_reruns_what_reads_the_teacher(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    make_pipeline(config, run_dir, ["teacher.epochs=30"]).run()
    # tune does not read the teacher; everything downstream of it does.
    assert started(log) == ["teacher", "reinforce", "extract", "index", "train", "evaluate"]


def test_changed_data_file_redoes_prepare(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    train = Path(load_toml(config)["task"]["train_file"])
    train.write_text(train.read_text() + "an extra good line,1\n")
    make_pipeline(config, run_dir).run()
    assert started(log) == list(STAGE_NAMES)


def test_restored_data_with_new_times_keeps_every_stage(small_run):
    # A dataset copied back or re-materialised has new times but the same bytes.
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    train = Path(load_toml(config)["task"]["train_file"])
    train.write_bytes(train.read_bytes())
    os.utime(train, ns=(1, 1))
    make_pipeline(config, run_dir).run()
    assert started(log) == []


def test_rerun_with_identical_output_keeps_downstream(small_run):
    # A run keyed by an older rule (here: a stale prepare key) recomputes prepare;
    # its outputs are byte-identical, so nothing downstream is redone.
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    before = manifest["stages"]["prepare"]["output_id"]
    manifest["stages"]["prepare"]["key"] = "an-older-key"
    RunDir(run_dir).write_manifest(manifest)
    log.unlink()
    make_pipeline(config, run_dir).run()
    assert started(log) == ["prepare"]
    after = json.loads(manifest_path.read_text())["stages"]["prepare"]
    assert after["output_id"] == before and after["key"] != "an-older-key"


def test_rerun_with_changed_output_redoes_downstream(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["stages"]["prepare"]["key"] = "an-older-key"
    RunDir(run_dir).write_manifest(manifest)
    # The old outputs differ from what prepare now writes.
    (run_dir / "stages/prepare/task.json").write_text("{}")
    log.unlink()
    make_pipeline(config, run_dir).run()
    # Stages that read prepare rerun; later ones may again be cut off when the
    # in-test components reproduce their outputs byte for byte.
    assert started(log)[:3] == ["prepare", "teacher", "tune"]


def test_from_and_until(small_run):
    config, run_dir, log = small_run
    assert make_pipeline(config, run_dir).run(until_stage="extract") is None
    assert started(log) == ["prepare", "teacher", "tune", "reinforce", "extract"]
    assert not (run_dir / "metrics.json").exists()
    log.unlink()
    make_pipeline(config, run_dir).run()
    assert started(log) == ["index", "train", "evaluate"]
    log.unlink()
    make_pipeline(config, run_dir).run(from_stage="index")
    assert started(log) == ["index", "train", "evaluate"]


def test_bad_stage_names(small_run):
    config, run_dir, _ = small_run
    with pytest.raises(ConfigError, match=r"--from 'trian': unknown stage"):
        make_pipeline(config, run_dir).run(from_stage="trian")
    with pytest.raises(ConfigError, match="comes after"):
        make_pipeline(config, run_dir).run(from_stage="train", until_stage="tune")


def test_keyboard_interrupt_keeps_finished_stages(small_run, monkeypatch):
    config, run_dir, log = small_run
    import retrikt_core.pipeline.runner as pipeline_module

    def interrupted(ctx):
        raise KeyboardInterrupt

    stages = tuple(
        s if s.name != "index" else s.__class__(**{**s.__dict__, "run": interrupted})
        for s in pipeline_module.STAGES
    )
    monkeypatch.setattr(pipeline_module, "STAGES", stages)
    with pytest.raises(KeyboardInterrupt):
        make_pipeline(config, run_dir).run()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["index"]["status"] == "interrupted"
    assert not (run_dir / "stages" / "index.partial").exists()
    monkeypatch.undo()
    os.environ["RETRIKT_TEST_LOG"] = str(log)
    log.unlink()
    make_pipeline(config, run_dir).run()
    assert started(log) == ["index", "train", "evaluate"]


def test_killed_run_resumes(small_run, tmp_path):
    """SIGKILL during `extract` (no chance to clean up): the next run resumes
    at `extract` and redoes none of the stages that had finished."""
    config, run_dir, log = small_run
    marker = tmp_path / "generating"
    sleepy = ["--set", "generator.sleep_in_generate=1", "--set", f"generator.marker='{marker}'"]
    base = [sys.executable, "-m", "retrikt_core.cli", "run", str(config)]
    proc = subprocess.Popen(base + sleepy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "run ended before reaching extract"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert started(log) == ["prepare", "teacher", "tune", "reinforce", "extract"]
    assert (
        json.loads((run_dir / "manifest.json").read_text())["stages"]["extract"]["status"]
        == "running"
    )
    log.unlink()
    done = subprocess.run(base + sleepy, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert started(log) == ["extract", "index", "train", "evaluate"]
    assert not list((run_dir / "stages").glob("*.partial"))
    assert (run_dir / "metrics.json").is_file()


def test_sigterm_is_a_clean_interrupt(small_run, tmp_path):
    config, run_dir, _ = small_run
    marker = tmp_path / "generating"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "retrikt_core.cli",
            "run",
            str(config),
            "--set",
            "generator.sleep_in_generate=30",
            "--set",
            f"generator.marker='{marker}'",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "rerun" in err or "again to resume" in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["extract"]["status"] == "interrupted"
    assert manifest["stages"]["reinforce"]["status"] == "finished"


def test_run_is_deterministic(small_run, tmp_path):
    config, run_dir, _ = small_run
    first = make_pipeline(config, run_dir).run()
    second = make_pipeline(config, tmp_path / "again").run()
    accuracy = {m: r["accuracy"] for m, r in first["methods"].items()}
    assert accuracy == {m: r["accuracy"] for m, r in second["methods"].items()}
    knowledge = "stages/extract/knowledge.jsonl"
    assert (run_dir / knowledge).read_text() == (tmp_path / "again" / knowledge).read_text()


def test_second_process_on_same_run_dir_is_refused(small_run):
    config, run_dir, _ = small_run
    from retrikt_core.pipeline import PipelineError, RunDir

    run_dir.mkdir(parents=True)
    with RunDir(run_dir).lock(), pytest.raises(PipelineError, match="another retrikt"):
        make_pipeline(config, run_dir).run()


def test_missing_task_file_is_reported_before_work(small_run):
    config, run_dir, log = small_run
    with pytest.raises(ConfigError, match=r"task\.eval_file: file not found: .*nope\.csv"):
        make_pipeline(config, run_dir, ["task.eval_file=nope.csv"]).run()
    assert started(log) == []


def test_new_plugin_version_redoes_the_stages_it_computes(small_run):
    config, run_dir, log = small_run
    make_pipeline(config, run_dir).run()
    log.unlink()
    get_plugins().infos["testkit"].version = "0.0.2"  # the `template` generator's package
    make_pipeline(config, run_dir).run()
    # tune is recomputed; the template generator writes the same bytes as before,
    # so the stages that read tune keep their keys (early cut-off).
    assert started(log) == ["tune"]
