"""The four methods of finished full-method runs, side by side: teacher,
k-shot student, vanilla KD student and RetriKT student, mean +- std over seeds
per task (and per variant, e.g. PPO vs none), read from each run's
metrics.json and manifest.json. It reads runs; it does not run them:

    for t in sst2 rte cb; do for s in 0 1 2; do
      .venv/bin/retrikt run examples/configs/$t-retrikt.toml --data-dir ../shared/data \\
          --run-dir runs/method/$t-s$s --set run.seed=$s
    done; done
    .venv/bin/python benchmarks/method.py runs/method/*

Run directories are grouped by name: ``<task>-s<seed>[-<variant>]``. Prints
Markdown tables and writes benchmarks/results/method.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json
from retrikt_core.knowledge import distinct_n
from retrikt_core.records import jsonl_lines

METHODS = ("teacher", "kshot_student", "kd_student", "retrikt_student")
NAME = re.compile(r"^(?P<task>[a-z0-9]+)-s(?P<seed>\d+)(?:-(?P<variant>[\w.-]+))?$")


def read_run(run_dir: Path) -> dict[str, Any] | None:
    match = NAME.match(run_dir.name)
    metrics_file = run_dir / "metrics.json"
    if match is None or not metrics_file.is_file():
        return None
    metrics = json.loads(metrics_file.read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    evaluated = manifest["stages"].get("evaluate", {}).get("status") == "finished"
    if not evaluated or metrics.get("config_hash") != manifest.get("config_hash"):
        return None  # unfinished, or metrics left from another config (a copied run)
    stages = manifest["stages"]
    extract = stages.get("extract", {}).get("counts", {})
    rows = knowledge_rows(run_dir)
    return {
        "run_dir": str(run_dir),
        "task": match["task"],
        "seed": int(match["seed"]),
        "variant": match["variant"] or "base",
        "methods": metrics["methods"],
        "stage_seconds": {name: record.get("seconds") for name, record in stages.items()},
        "stage_cpu_seconds": {name: record.get("cpu_seconds") for name, record in stages.items()},
        "total_seconds": sum(record.get("seconds", 0) or 0 for record in stages.values()),
        # What building the knowledge cost beyond the shared teacher: fitting the
        # source(s), RL, generating or reading, filtering and teacher labelling.
        "knowledge_cpu_seconds": knowledge_cpu_seconds(stages),
        "taken_cpu_seconds": taken_cost(run_dir, rows),
        "store_entries": stages.get("index", {}).get("counts", {}).get("entries"),
        "label_consistency": extract.get("label_consistency"),
        "knowledge": knowledge_quality(rows, extract),
    }


def finished_runs(paths: list[Path]) -> list[dict[str, Any]]:
    """:func:`read_run` of each finished run among ``paths``; exits when none is."""
    runs = [run for run in map(read_run, paths) if run is not None]
    if not runs:
        raise SystemExit("no finished runs named <task>-s<seed>[-<variant>] among the arguments")
    return runs


def knowledge_cpu_seconds(stages: dict[str, Any]) -> float:
    return sum(
        stages.get(name, {}).get("cpu_seconds", 0) or 0 for name in ("tune", "reinforce", "extract")
    )


def knowledge_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "stages" / "extract" / "knowledge.jsonl"
    return [json.loads(line) for _, line in jsonl_lines(path.read_text(encoding="utf-8"))]


def taken_cost(run_dir: Path, rows: list[dict[str, Any]]) -> float:
    """CPU seconds of the knowledge this run took from finished runs (the
    `knowledge` source): each source run's knowledge cost times the share of
    its kept entries taken, so a store mixed from two runs is charged what its
    entries cost to make rather than the near-zero cost of copying them."""
    counts: dict[str, int] = {}
    for row in rows:
        taken = row.get("provenance", {}).get("taken_from")
        if taken:
            counts[taken] = counts.get(taken, 0) + 1
    total = 0.0
    for file, n in counts.items():
        source = Path(file).parents[2]  # RUN/stages/extract/knowledge.jsonl
        manifest = source / "manifest.json"
        if Path(file).parent.name != "extract" or not manifest.is_file():
            print(f"warning: {run_dir.name}: no run behind {file}; its cost is not counted")
            continue
        stages = json.loads(manifest.read_text())["stages"]
        own = knowledge_cpu_seconds(stages) + taken_cost(source, knowledge_rows(source))
        total += own * n / stages["extract"]["counts"]["kept"]
    return total


def knowledge_quality(rows: list[dict[str, Any]], extract: dict[str, Any]) -> dict[str, Any]:
    """Distinct-2 of the kept entries, the degenerate share of what was
    gathered, and the entries per source."""
    texts = [r["text"] + (" " + r["text_pair"] if r.get("text_pair") else "") for r in rows]
    generated = extract.get("generated") or 0
    return {
        "distinct_2": distinct_n(texts, 2) if texts else None,
        "degenerate_share": extract.get("dropped_degenerate", 0) / generated if generated else None,
        "by_source": extract.get("by_source", {}),
    }


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def table(runs: list[dict[str, Any]], metric: str) -> list[str]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["task"], run["variant"]), []).append(run)
    lines = [
        f"| task | variant | seeds | {' | '.join(METHODS)} | retrikt − kshot | retrikt − kd |",
        "|---|---|---|" + "---:|" * (len(METHODS) + 2),
    ]
    for (task, variant), group in sorted(groups.items()):
        group.sort(key=lambda r: r["seed"])
        cells = []
        for method in METHODS:
            cells.append(
                mean_std([r["methods"][method][metric] for r in group if method in r["methods"]])
            )
        gaps = []
        for other in ("kshot_student", "kd_student"):
            diffs = [
                r["methods"]["retrikt_student"][metric] - r["methods"][other][metric]
                for r in group
                if "retrikt_student" in r["methods"] and other in r["methods"]
            ]
            gaps.append(mean_std(diffs))
        seeds = ",".join(str(r["seed"]) for r in group)
        lines.append(f"| {task} | {variant} | {seeds} | {' | '.join(cells)} | {' | '.join(gaps)} |")
    return lines


def size_speed(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| run | student params (% of teacher) | teacher ex/s | retrikt ex/s (x teacher) "
        "| store entries | label consistency | run minutes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in sorted(runs, key=lambda r: (r["task"], r["variant"], r["seed"])):
        m = run["methods"]
        student, teacher = m.get("retrikt_student", {}), m.get("teacher", {})
        consistency = run["label_consistency"]
        lines.append(
            f"| {Path(run['run_dir']).name} | {student.get('params', 0):,} "
            f"({100 * student.get('params_ratio_to_teacher', float('nan')):.2f}%) "
            f"| {teacher.get('examples_per_s', float('nan')):.1f} "
            f"| {student.get('examples_per_s', float('nan')):.0f} "
            f"({student.get('speedup_vs_teacher', float('nan')):.0f}x) "
            f"| {run['store_entries']} "
            f"| {'-' if consistency is None else f'{100 * consistency:.1f}%'} "
            f"| {run['total_seconds'] / 60:.1f} |"
        )
    return lines


def knowledge_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| run | store entries | label consistency | distinct-2 | degenerate (dropped) "
        "| knowledge CPU min (own + taken from finished runs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    for run in sorted(runs, key=lambda r: (r["task"], r["variant"], r["seed"])):
        k = run["knowledge"]
        distinct = "-" if k["distinct_2"] is None else f"{k['distinct_2']:.3f}"
        lines.append(
            f"| {Path(run['run_dir']).name} | {run['store_entries']} "
            f"| {pct(run['label_consistency'])} | {distinct} | {pct(k['degenerate_share'])} "
            f"| {cost_minutes(run)} |"
        )
    return lines


def cost_minutes(run: dict[str, Any]) -> str:
    own, taken = run["knowledge_cpu_seconds"] / 60, run.get("taken_cpu_seconds", 0) / 60
    return f"{own + taken:.1f} ({own:.1f} + {taken:.1f})" if taken else f"{own:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--out", default="benchmarks/results/method.json")
    args = parser.parse_args()
    runs = finished_runs(args.runs)
    print("Accuracy (%), mean ± std over seeds\n")
    print("\n".join(table(runs, "accuracy")))
    print("\nMacro-F1 (%), mean ± std over seeds\n")
    print("\n".join(table(runs, "macro_f1")))
    print("\nSize and speed per run\n")
    print("\n".join(size_speed(runs)))
    print("\nKnowledge per run\n")
    print("\n".join(knowledge_table(runs)))
    atomic_write_json(Path(args.out), {"runs": runs})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
