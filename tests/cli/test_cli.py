"""The CLI: start-up stays light, commands print what they promise."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from retrikt_core.cli import app
from retrikt_core.testing.runs import make_pipeline

runner = CliRunner()


def test_help_does_not_import_torch_or_faiss():
    code = (
        "import sys\n"
        "sys.argv = ['retrikt', '--help']\n"
        "from retrikt_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'faiss', 'transformers', 'peft')\n"
        "heavy = sorted(m for m in heavy if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "run" in out.stdout and "plugins" in out.stdout


def test_plugins_listing_does_not_import_torch(testkit_site):
    code = (
        "import sys\nsys.argv = ['retrikt', 'plugins', '--json']\n"
        "from retrikt_core.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'faiss') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_run_then_show(small_run):
    config, run_dir, _ = small_run
    result = runner.invoke(app, ["run", str(config), "--set", "student.epochs=30"])
    assert result.exit_code == 0, result.output
    assert "retrikt_student" in result.output and "report:" in result.output
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["config_hash"]
    shown = runner.invoke(app, ["show", str(run_dir)])
    assert shown.exit_code == 0
    assert "finished" in shown.output and "kd_student" in shown.output


def test_run_dir_option_overrides_config(small_run, tmp_path):
    config, run_dir, _ = small_run
    other = tmp_path / "other"
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(other), "--until", "prepare"])
    assert result.exit_code == 0, result.output
    assert (other / "stages" / "prepare" / "kshot.jsonl").is_file()
    assert not run_dir.exists()


def test_config_typo_exits_2_naming_the_key(small_run):
    config, _, _ = small_run
    result = runner.invoke(app, ["run", str(config), "--set", "retriever.kk=3"])
    assert result.exit_code == 2
    assert "retriever.kk: unknown option; allowed: k" in result.output


def test_show_on_a_non_run(tmp_path):
    result = runner.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a retrikt run directory" in result.output


def test_show_does_not_trust_an_edited_metrics_file(small_run):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    right = metrics["methods"]["kd_student"]["accuracy"]
    metrics["methods"]["kd_student"]["accuracy"] = 0.999
    metrics_file.write_text(json.dumps(metrics))
    result = runner.invoke(app, ["show", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "is not the metrics of the evaluate stage" in result.output
    assert "99.90%" not in result.output and f"{100 * right:.2f}%" in result.output
    (run_dir / "stages" / "evaluate" / "metrics.json").unlink()  # nothing to fall back on
    metrics_file.write_text("{}")
    result = runner.invoke(app, ["show", str(run_dir)])
    assert result.exit_code == 2 and "not a retrikt metrics file" in result.output
    assert "Traceback" not in result.output


def test_version_short_help_and_completion():
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("retrikt ")
    short = runner.invoke(app, ["show", "-h"])
    assert short.exit_code == 0 and "RUN_DIR" in short.output and "run directory" in short.output
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_show_tells_interrupted_and_missing_stages(small_run):
    import shutil

    from retrikt_core.pipeline import RunDir

    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    run = RunDir(run_dir)
    manifest = run.manifest()
    manifest["stages"]["train"]["status"] = "running"  # as a killed process leaves it
    run.write_manifest(manifest)
    shutil.rmtree(run_dir / "stages" / "index")
    result = runner.invoke(app, ["show", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "interrupted" in rows["train"] and "missing" in rows["index"]
    assert "finished" in rows["prepare"]
    with run.lock():  # a live process holds the lock: the stage is running
        assert run.stage_status("train") == "running"


def test_a_run_dir_that_is_a_file_is_an_error(small_run, tmp_path):
    config, _, _ = small_run
    target = tmp_path / "a-file"
    target.write_text("not a directory")
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(target)])
    assert result.exit_code == 2 and "is not a directory" in result.output
    assert "Traceback" not in result.output


def test_a_folder_that_holds_other_files_is_not_taken_as_a_run_dir(small_run, tmp_path):
    config, _, _ = small_run
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"mine": true}')
    (project / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(project)])
    assert result.exit_code == 2, result.output
    assert "holds files that are not a retrikt run's (notes.txt)" in result.output
    assert (project / "config.json").read_text() == '{"mine": true}', "nothing overwritten"
    assert sorted(p.name for p in project.iterdir()) == ["config.json", "notes.txt"]
    # An empty folder, and a run's own folder, are run dirs.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(empty), "--until", "prepare"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", str(config), "--run-dir", str(empty), "--until", "prepare"])
    assert result.exit_code == 0, result.output


def test_written_files_follow_the_umask(small_run):
    import os

    config, run_dir, _ = small_run
    old = os.umask(0o022)
    try:
        make_pipeline(config, run_dir).run(until_stage="prepare")
    finally:
        os.umask(old)
    for path in (run_dir / "manifest.json", run_dir / "stages" / "prepare" / "kshot.jsonl"):
        assert path.stat().st_mode & 0o777 == 0o644, path
