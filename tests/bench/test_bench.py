"""`retrikt bench`: grid expansion and validation, stages shared between runs
through the stage cache, tables and plots, resume after an interruption."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrikt_core.bench import (
    Bench,
    parse_grid,
    parse_seeds,
    plan_bench,
    split_values,
)
from retrikt_core.cli import app
from retrikt_core.config import ConfigError
from retrikt_core.pipeline import STAGE_NAMES, StageCache
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.runs import make_pipeline

UPSTREAM = ("prepare", "teacher", "tune", "reinforce", "extract")


def started(log: Path) -> Counter:
    if not log.exists():
        return Counter()
    return Counter(line.split()[1] for line in log.read_text().splitlines() if "started" in line)


@pytest.fixture
def no_run_plots(monkeypatch):
    """Each run's own report plots are tested elsewhere; skipping them keeps this fast."""
    monkeypatch.setattr("retrikt_core.pipeline.report.write_plots", lambda *args, **kwargs: [])


@pytest.fixture
def no_plots(monkeypatch, no_run_plots):
    """No plots at all (the bench's are checked by one test)."""
    monkeypatch.setattr("retrikt_core.bench.plots.write_bench_plots", lambda *a, **k: [])


def bench(config, grid, bench_dir, seeds=None, overrides=()):
    plugins = get_plugins()
    plan = plan_bench(config, grid, plugins.registry, seeds, list(overrides), bench_dir)
    return plan, Bench(plan, plugins)


# --- parsing and validation ------------------------------------------------------


def test_grid_values_are_read_like_set():
    axis = parse_grid("retriever.k=4, 16")
    assert (axis.key, axis.texts, axis.values) == ("retriever.k", ("4", "16"), (4, 16))
    methods = parse_grid('evaluate.methods=["teacher","kd_student"],["kd_student"]')
    assert methods.values == (["teacher", "kd_student"], ["kd_student"])
    assert parse_grid("store.plugin=faiss,bm25").values == ("faiss", "bm25")
    assert split_values("'a,b',c") == ["'a,b'", "c"]
    assert parse_seeds("1,2,3") == [1, 2, 3]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("retriever.k", "expected section.key=value1,value2"),
        ("k=4,16", "expected section.key=..., got key 'k'"),
        ("retriever.k=4,", "empty value"),
        ("retriever.k=4,4", "value '4' is given twice"),
        ("run.seed=1,2", "give seeds with --seeds"),
        ("run.run_dir=a,b", "BENCH_DIR/runs"),
    ],
)
def test_bad_grid_flags(spec, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_grid(spec)


def test_bad_seeds():
    with pytest.raises(ConfigError, match="comma-separated integers"):
        parse_seeds("1,x")
    with pytest.raises(ConfigError, match="seed 1 is given twice"):
        parse_seeds("1,2,1")


def test_every_combination_is_validated_before_anything_runs(small_run, tmp_path):
    config, _, log = small_run
    with pytest.raises(ConfigError) as caught:
        bench(config, ["store.plugin=memory,nope", "retriever.k=2,4"], tmp_path / "b")
    message = str(caught.value)
    # Two of the four runs are bad; the error names the run and the key.
    assert message.startswith("2 of 4 bench runs have an invalid config")
    assert (
        "store.plugin=nope retriever.k=2 seed=0; store.plugin=nope retriever.k=4 seed=0: "
        "store.plugin: unknown store 'nope'" in message
    )
    # Every run has the same problem: the message is the one `run` gives.
    with pytest.raises(ConfigError) as caught:
        bench(config, ["retriever.kk=1,2"], tmp_path / "b")
    assert str(caught.value) == "retriever.kk: unknown option; allowed: k. Did you mean 'k'?"
    # A grid value may be what makes a config valid.
    no_store = tmp_path / "no-store.toml"
    no_store.write_text(config.read_text().replace('plugin = "memory"\n', ""))
    with pytest.raises(ConfigError, match=r"store\.plugin: required"):
        bench(no_store, [], tmp_path / "b")
    plan, _ = bench(no_store, ["store.plugin=memory"], tmp_path / "b")
    assert plan.runs[0].config.plugin("store") == "memory"
    with pytest.raises(ConfigError, match=r"--grid retriever\.k: also given with --set"):
        bench(config, ["retriever.k=1,2"], tmp_path / "b", overrides=["retriever.k=3"])
    with pytest.raises(ConfigError, match=r"--grid retriever\.k: given twice"):
        bench(config, ["retriever.k=1,2", "retriever.k=3"], tmp_path / "b")
    with pytest.raises(ConfigError, match="--seeds and --set run.seed"):
        bench(config, [], tmp_path / "b", seeds="0,1", overrides=["run.seed=3"])
    assert not (tmp_path / "b").exists() and not log.exists()


def test_plan_names_runs_and_defaults(small_run, tmp_path):
    config, run_dir, _ = small_run
    plan, _ = bench(config, ["retriever.k=2,4", "student.dim=64,128"], None, seeds="3,5")
    assert plan.bench_dir == Path(f"{run_dir}-bench")
    assert len(plan.runs) == 8
    first = plan.runs[0]
    assert first.grid == {"retriever.k": 2, "student.dim": 64} and first.seed == 3
    assert first.run_dir == plan.bench_dir / "runs" / "retriever.k=2,student.dim=64" / "seed-3"
    assert first.config.run.seed == 3 and first.config.options("retriever").k == 2
    assert len({r.run_dir for r in plan.runs}) == 8
    # Without --seeds, the config's seed; values that are not file-name safe get a hash.
    plan, _ = bench(config, ['evaluate.methods=["teacher"],["kd_student"]'], tmp_path / "b")
    assert [r.seed for r in plan.runs] == [0, 0]
    names = [r.run_dir.parent.name for r in plan.runs]
    assert len(set(names)) == 2 and all("/" not in n and '"' not in n for n in names)


# --- the stage cache ---------------------------------------------------------------


def test_stage_cache_round_trip_copies_files_and_keeps_the_record(tmp_path):
    cache = StageCache(tmp_path / "cache")
    src = tmp_path / "a" / "stages" / "tune"
    (src / "generator").mkdir(parents=True)
    (src / "generator" / "state.json").write_text("{}")
    record = {"status": "finished", "key": "k1", "output_id": "abc123", "seconds": 2.5}
    assert cache.fetch("tune", "k1", tmp_path / "b" / "stages" / "tune") is None
    assert cache.put("tune", "k1", src, record, tmp_path / "a")
    assert not cache.put("tune", "k1", src, record, tmp_path / "a")  # already there
    dest = tmp_path / "b" / "stages" / "tune"
    dest.parent.mkdir(parents=True)
    reused = cache.fetch("tune", "k1", dest)
    assert reused == {**record, "reused_from": str(tmp_path / "a")}
    # A copy, not a link: editing the reused file in place leaves the source alone.
    copied = dest / "generator" / "state.json"
    assert not os.path.samefile(copied, src / "generator" / "state.json")
    copied.write_text('{"edited": true}')
    assert (src / "generator" / "state.json").read_text() == "{}"
    assert not list(dest.parent.glob("*.partial"))
    # A killed put leaves only a temp entry, which is not a hit and is cleaned.
    (tmp_path / "cache" / "tune" / ".k2.1234.tmp" / "output").mkdir(parents=True)
    assert cache.fetch("tune", "k2", tmp_path / "c") is None
    cache.clean()
    assert sorted(p.name for p in (tmp_path / "cache" / "tune").iterdir()) == ["k1"]


# --- running ---------------------------------------------------------------------------


def test_grid_runs_every_combination_and_computes_shared_stages_once(
    small_run, tmp_path, no_run_plots
):
    config, _, log = small_run
    plan, runner = bench(config, ["store.dim=256,512"], tmp_path / "b", seeds="0,1")
    result = runner.run()
    assert len(plan.runs) == 4 and all((r.run_dir / "metrics.json").is_file() for r in plan.runs)
    # Per seed, everything upstream of the store is computed once; the store and
    # what reads it, once per store.
    counts = started(log)
    assert {s: counts[s] for s in STAGE_NAMES} == {
        **dict.fromkeys(UPSTREAM, 2),
        **dict.fromkeys(("index", "train", "evaluate"), 4),
    }
    by_run = {(r.grid["store.dim"], r.seed): r for r in plan.runs}
    for seed in (0, 1):
        first = json.loads((by_run[256, seed].run_dir / "manifest.json").read_text())["stages"]
        second = json.loads((by_run[512, seed].run_dir / "manifest.json").read_text())["stages"]
        for stage in UPSTREAM:
            assert "reused_from" not in first[stage]
            assert second[stage]["reused_from"] == str(by_run[256, seed].run_dir)
            # The output id travels with the output, so downstream keys match.
            assert second[stage]["output_id"] == first[stage]["output_id"]
            assert second[stage]["status"] == "finished"
        assert "reused_from" not in second["index"]
        tune = "stages/tune/generator/state.json"
        first_copy, second_copy = by_run[256, seed].run_dir / tune, by_run[512, seed].run_dir / tune
        assert first_copy.read_bytes() == second_copy.read_bytes()
        assert not os.path.samefile(first_copy, second_copy)  # a copy: each run owns its files
    # Sharing changes nothing: the same run made alone gives the same results.
    alone = make_pipeline(config, tmp_path / "alone", ["store.dim=512", "run.seed=1"]).run()
    shared = json.loads((by_run[512, 1].run_dir / "metrics.json").read_text())
    for method, row in alone["methods"].items():
        assert shared["methods"][method]["accuracy"] == row["accuracy"]
    knowledge = "stages/extract/knowledge.jsonl"
    assert (tmp_path / "alone" / knowledge).read_text() == (
        by_run[512, 1].run_dir / knowledge
    ).read_text()

    # bench.json: one row per run with grid values, seed, metrics, stage times.
    data = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert data == json.loads(json.dumps(result.data))
    assert data["grid"] == {"store.dim": [256, 512]} and data["seeds"] == [0, 1]
    assert [(r["grid"]["store.dim"], r["seed"]) for r in data["runs"]] == [
        (256, 0),
        (256, 1),
        (512, 0),
        (512, 1),
    ]
    row = data["runs"][3]
    metrics = json.loads((by_run[512, 1].run_dir / "metrics.json").read_text())
    for method, m in metrics["methods"].items():
        assert row["methods"][method] == {
            f: m[f] for f in ("accuracy", "macro_f1", "params", "examples_per_s")
        }
    assert row["reused_stages"] == list(UPSTREAM)
    assert set(row["stage_seconds"]) == set(STAGE_NAMES)
    # Summary: mean and sample std over the two seeds.
    accs = [r["methods"]["retrikt_student"]["accuracy"] for r in data["runs"][2:]]
    entry = next(
        s
        for s in data["summary"]
        if s["grid"] == {"store.dim": 512} and s["method"] == "retrikt_student"
    )
    assert entry["seeds"] == [0, 1]
    assert entry["accuracy_mean"] == pytest.approx(sum(accs) / 2)
    assert entry["accuracy_std"] == pytest.approx(abs(accs[0] - accs[1]) / 2**0.5)

    with open(tmp_path / "b" / "bench.csv") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 4
    assert lines[3]["store.dim"] == "512" and lines[3]["seed"] == "1"
    assert float(lines[3]["retrikt_student.accuracy"]) == accs[1]
    assert lines[3]["reused_stages"] == " ".join(UPSTREAM)

    markdown = (tmp_path / "b" / "bench.md").read_text()
    assert "## Accuracy" in markdown and "| `store.dim` |" in markdown
    mean, std = entry["accuracy_mean"], entry["accuracy_std"]
    assert f"{mean:.1%} ± {std * 100:.1f}" in markdown
    for plot in ("bench_accuracy.png", "bench_params.png", "bench_stages.png"):
        assert f"![{plot}]({plot})" in markdown
        assert (tmp_path / "b" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interrupted_bench_resumes_and_finished_runs_are_skipped(
    small_run, tmp_path, monkeypatch, no_plots
):
    config, _, log = small_run
    import retrikt_core.pipeline.runner as pipeline_module

    original = pipeline_module.STAGES
    calls = []

    def train_then_interrupt(ctx):
        calls.append(ctx.pipeline.run_dir)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return next(s for s in original if s.name == "train").run(ctx)

    patched = tuple(
        dataclasses.replace(s, run=train_then_interrupt) if s.name == "train" else s
        for s in original
    )
    monkeypatch.setattr(pipeline_module, "STAGES", patched)
    grid = ["teacher.epochs=30,60"]
    plan, runner = bench(config, grid, tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    first, second = plan.runs
    assert (first.run_dir / "metrics.json").is_file()
    assert not (second.run_dir / "metrics.json").exists()
    # A new teacher: the generator is not tuned again.
    assert started(log)["tune"] == 1 and started(log)["teacher"] == 2
    rows = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert rows["runs_finished"] == 1 and rows["runs_planned"] == 2

    monkeypatch.setattr(pipeline_module, "STAGES", original)
    log.unlink()
    _, runner = bench(config, grid, tmp_path / "b")
    runner.run()
    assert started(log) == Counter({"train": 1, "evaluate": 1})
    assert json.loads((tmp_path / "b" / "bench.json").read_text())["runs_finished"] == 2

    # Everything finished: nothing runs. The cache may even be deleted; it refills.
    log.unlink()
    import shutil

    shutil.rmtree(tmp_path / "b" / "cache")
    _, runner = bench(config, grid, tmp_path / "b")
    runner.run()
    assert started(log) == Counter()
    assert StageCache(tmp_path / "b" / "cache").has(
        "tune", json.loads((second.run_dir / "manifest.json").read_text())["stages"]["tune"]["key"]
    )
    # A new grid value reuses what the cache holds and computes the rest.
    _, runner = bench(config, ["teacher.epochs=30,60,90"], tmp_path / "b")
    runner.run()
    assert started(log) == Counter(
        {s: 1 for s in ("teacher", "reinforce", "extract", "index", "train", "evaluate")}
    )


def test_reuse_takes_an_existing_runs_stages_where_keys_agree(small_run, tmp_path, no_plots):
    config, _, log = small_run
    plain = make_pipeline(config, tmp_path / "plain", ["retriever.k=2"])
    alone = plain.run()
    log.unlink()
    plan, runner = bench(config, ["retriever.k=2,4"], tmp_path / "b")
    assert runner.reuse(tmp_path / "plain") == list(STAGE_NAMES)
    runner.run()
    # k = 2 is the plain run itself; k = 4 retrains and evaluates only.
    assert started(log) == Counter({"train": 1, "evaluate": 1})
    same, other = plan.runs
    stages = json.loads((same.run_dir / "manifest.json").read_text())["stages"]
    assert {s: stages[s]["reused_from"] for s in STAGE_NAMES} == dict.fromkeys(
        STAGE_NAMES, str(tmp_path / "plain")
    )
    metrics = json.loads((same.run_dir / "metrics.json").read_text())
    for method, row in alone["methods"].items():
        assert metrics["methods"][method]["accuracy"] == row["accuracy"]
    stages = json.loads((other.run_dir / "manifest.json").read_text())["stages"]
    assert stages["index"]["reused_from"] == str(tmp_path / "plain")
    assert "reused_from" not in stages["train"]

    # Another seed has other keys: nothing is taken, everything is computed.
    log.unlink()
    plan, runner = bench(config, ["retriever.k=2"], tmp_path / "c", seeds="1")
    runner.reuse(tmp_path / "plain")
    runner.run()
    assert set(started(log)) == set(STAGE_NAMES)

    with pytest.raises(ConfigError, match="--reuse .*nowhere: no manifest.json"):
        runner.reuse(tmp_path / "nowhere")


runner = CliRunner()


def test_cli_bench(small_run, tmp_path, no_plots):
    config, _, log = small_run
    args = ["bench", str(config), "--grid", "retriever.k=2,4", "--bench-dir", str(tmp_path / "b")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "retrikt bench" in result.output and "2 runs" in result.output
    assert "reused from" in result.output  # the second run reuses the first's stages
    assert "retrikt_student" in result.output and "bench.md" in result.output
    for name in ("bench.json", "bench.csv", "bench.md"):
        assert (tmp_path / "b" / name).is_file()
    assert started(log)["tune"] == 1 and started(log)["train"] == 2
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("finished, skipped") == 2

    # A new bench directory that takes the first bench's k = 2 run: only k = 4 trains.
    first = tmp_path / "b" / "runs" / "retriever.k=2" / "seed-0"
    reused = runner.invoke(app, [*args[:-1], str(tmp_path / "c"), "--reuse", str(first)])
    assert reused.exit_code == 0, reused.output
    assert "stages offered from" in reused.output and "prepare, teacher" in reused.output
    assert started(log)["tune"] == 1 and started(log)["train"] == 3
    missing = runner.invoke(app, [*args, "--reuse", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a run directory" in missing.output

    bad = runner.invoke(app, ["bench", str(config), "--grid", "retriever.kk=2,4"])
    assert bad.exit_code == 2
    assert "retriever.kk: unknown option; allowed: k" in bad.output
