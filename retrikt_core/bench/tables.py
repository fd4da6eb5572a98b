"""A bench's results: one row per finished run, mean ± std over seeds, stage
times, and the JSON, CSV and Markdown tables written after each run."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text
from retrikt_core.bench.grid import BenchPlan, BenchRun
from retrikt_core.pipeline import RunDir

METRIC_FIELDS = ("accuracy", "macro_f1", "params", "examples_per_s")


def collect_row(plan: BenchPlan, run: BenchRun) -> dict[str, Any]:
    """One finished run as a row: grid values, seed, metrics per method, stage times."""
    rundir = RunDir(run.run_dir)
    metrics = rundir.metrics()
    manifest = rundir.manifest()
    stages = manifest["stages"]
    try:
        run_dir = str(run.run_dir.relative_to(plan.bench_dir))
    except ValueError:
        run_dir = str(run.run_dir)
    return {
        "run": run.label(plan.axes),
        "run_dir": run_dir,
        "combo": plan.combo_label(run.combo),
        "grid": run.grid,
        "seed": run.seed,
        "task": metrics["task"],
        "config_hash": run.config.config_hash(),
        "eval_examples": metrics.get("eval_examples"),
        "methods": {
            method: {f: row.get(f) for f in METRIC_FIELDS}
            for method, row in metrics["methods"].items()
        },
        "stage_seconds": {name: r.get("seconds") for name, r in stages.items()},
        "reused_stages": [name for name, r in stages.items() if "reused_from" in r],
        "computed_seconds": round(
            sum(r.get("seconds") or 0 for r in stages.values() if "reused_from" not in r), 3
        ),
    }


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def summarize(plan: BenchPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid combination and method: mean (and std, with two seeds or more)
    of each metric over the seeds that have finished."""
    summary = []
    for combo in plan.combos():
        label = plan.combo_label(combo)
        group = [r for r in rows if r["combo"] == label]
        if not group:
            continue
        methods = list(dict.fromkeys(m for r in group for m in r["methods"]))
        for method in methods:
            present = [r for r in group if method in r["methods"]]
            entry: dict[str, Any] = {
                "combo": label,
                "grid": group[0]["grid"],
                "method": method,
                "seeds": [r["seed"] for r in present],
            }
            for f in METRIC_FIELDS:
                values = [r["methods"][method][f] for r in present]
                values = [v for v in values if isinstance(v, int | float)]
                entry[f"{f}_mean"], entry[f"{f}_std"] = _mean_std(values)
            summary.append(entry)
    return summary


def stage_summary(plan: BenchPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid combination: mean seconds of each stage over seeds, and how many
    of the runs reused each stage rather than computing it."""
    out = []
    for combo in plan.combos():
        label = plan.combo_label(combo)
        group = [r for r in rows if r["combo"] == label]
        if not group:
            continue
        names = list(dict.fromkeys(n for r in group for n in r["stage_seconds"]))
        out.append(
            {
                "combo": label,
                "runs": len(group),
                "seconds": {
                    n: statistics.fmean(r["stage_seconds"].get(n) or 0 for r in group)
                    for n in names
                },
                "reused": {n: sum(n in r["reused_stages"] for r in group) for n in names},
                "computed_seconds": statistics.fmean(r["computed_seconds"] for r in group),
            }
        )
    return out


def bench_data(plan: BenchPlan, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "config": str(plan.config_path),
        "overrides": plan.overrides,
        "grid": {a.key: list(a.values) for a in plan.axes},
        "seeds": plan.seeds,
        "runs_planned": len(plan.runs),
        "runs_finished": len(rows),
        "runs": rows,
        "summary": summarize(plan, rows),
        "stages": stage_summary(plan, rows),
    }


def csv_text(data: dict[str, Any]) -> str:
    """``bench.csv``: the rows of ``bench.json`` flattened, one line per run."""
    rows = data["runs"]
    methods = list(dict.fromkeys(m for r in rows for m in r["methods"]))
    stages = list(dict.fromkeys(s for r in rows for s in r["stage_seconds"]))
    header = ["run", *data["grid"], "seed"]
    header += [f"{m}.{f}" for m in methods for f in METRIC_FIELDS]
    header += [f"seconds.{s}" for s in stages] + ["computed_seconds", "reused_stages", "run_dir"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        line = [r["run"], *(_cell(r["grid"][k]) for k in data["grid"]), r["seed"]]
        line += [r["methods"].get(m, {}).get(f, "") for m in methods for f in METRIC_FIELDS]
        line += [r["stage_seconds"].get(s, "") for s in stages]
        line += [r["computed_seconds"], " ".join(r["reused_stages"]), r["run_dir"]]
        writer.writerow(line)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def write_tables(bench_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_json(bench_dir / "bench.json", data, sort_keys=False)
    atomic_write_text(bench_dir / "bench.csv", csv_text(data))
