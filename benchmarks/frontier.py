"""The size-quality frontier from finished runs of benchmarks/students.sh:
for each student (variant), its parameters, accuracy on the k-shot labels
alone, with KD and with retrieval (mean ± std over seeds), examples/s and the
run's training CPU, beside the teacher and SetFit measured in the same runs.
It reads runs; it does not run them:

    for s in 0 1 2; do benchmarks/students.sh sst2 $s; done
    .venv/bin/python benchmarks/frontier.py runs/students/sst2-s*

Prints a Markdown table, writes benchmarks/results/frontier-<task>.json and
plots accuracy against parameters (log scale) to frontier-<task>.png
(``--suffix=-8k`` writes frontier-<task>-8k.*, for runs on other knowledge).
Seeds whose run directories are gone enter through their own earlier output
(``--with frontier-sst2-8k-s0.json``, one seed's table).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from method import finished_runs

from retrikt_core.atomic import atomic_write_json

ROWS = (  # (label, method) measured once per seed, whatever the student
    ("teacher: SmolLM2-135M, tuned soft prompt", "teacher"),
    ("SetFit on all-MiniLM-L6-v2 (k-shot only)", "setfit_baseline"),
)


def summary(values: list[float]) -> dict[str, float | None]:
    return {
        "mean": statistics.mean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "n": len(values),
    }


def show(s: dict[str, Any], scale: float = 100.0, digits: int = 1) -> str:
    if s["mean"] is None:
        return "-"
    text = f"{scale * s['mean']:,.{digits}f}"
    return text + (f" ± {scale * s['std']:.{digits}f}" if s["std"] is not None else "")


def collect(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (variant, method), and one each for the teacher and SetFit."""
    rows = []
    for label, method in ROWS:
        # Each seed's teacher and SetFit are shared by its variants: count a seed once.
        by_seed = {r["seed"]: r["methods"][method] for r in runs if method in r["methods"]}
        if by_seed:
            rows.append(point(label, method, list(by_seed.values())))
    for variant in sorted({r["variant"] for r in runs}):
        group = [r for r in runs if r["variant"] == variant]
        # Training is one stage for all of a run's students (k-shot, KD,
        # RetriKT, and SetFit where it runs): the run's cost, per seed.
        cpu = [r["stage_cpu_seconds"].get("train") for r in group]
        train = summary([seconds for seconds in cpu if seconds is not None])
        for method, how in (
            ("kshot_student", "k-shot only"),
            ("kd_student", "KD"),
            ("retrikt_student", "RetriKT"),
        ):
            found = [r["methods"][method] for r in group if method in r["methods"]]
            if found:
                rows.append(point(f"{variant} ({how})", method, found))
                rows[-1]["run_train_cpu_seconds"] = train
    return rows


def seeds_of(path: Path) -> list[dict[str, Any]]:
    """The runs behind an earlier output of this script on one seed, as
    :func:`read_run` gives them, so that seeds run apart combine into one
    table (their run directories need not be kept). Only single-seed outputs
    qualify: a mean over seeds cannot be split back into its seeds."""
    result = json.loads(path.read_text())
    if len(result["seeds"]) != 1:
        raise SystemExit(f"{path}: holds seeds {result['seeds']}; --with takes one seed's output")
    # The teacher's and SetFit's rows belong to the seed, not to one variant.
    per_seed = {method for _, method in ROWS}
    shared = {row["method"]: row for row in result["rows"] if row["method"] in per_seed}
    runs: dict[str, dict[str, Any]] = {}
    for row in result["rows"]:
        if row["method"] in shared:
            continue
        variant, _, _ = row["label"].partition(" (")
        run = runs.setdefault(
            variant,
            {
                "task": result["task"],
                "seed": result["seeds"][0],
                "variant": variant,
                "methods": {},
                "stage_cpu_seconds": {},
            },
        )
        run["methods"][row["method"]] = one_seed(row)
    for run in runs.values():
        run["methods"].update({method: one_seed(row) for method, row in shared.items()})
    return list(runs.values())


def one_seed(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "accuracy": row["accuracy"]["mean"],
        "examples_per_s": row["examples_per_s"]["mean"],
        "params": row["params"],
    }


def point(label: str, method: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "label": label,
        "method": method,
        "params": statistics.mean(m["params"] for m in found),
        "accuracy": summary([m["accuracy"] for m in found]),
        "examples_per_s": summary([m["examples_per_s"] for m in found]),
        "seeds": len(found),
    }


def plot(rows: list[dict[str, Any]], task: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    # The students on the k-shot labels alone stay in the table, not the plot:
    # the frontier is what the teacher's knowledge buys.
    rows = [row for row in rows if row["method"] != "kshot_student"]
    for j, row in enumerate(rows):
        acc = row["accuracy"]
        ax.errorbar(
            row["params"],
            100 * acc["mean"],
            yerr=100 * (acc["std"] or 0),
            fmt="s" if "RetriKT" in row["label"] else "o",
            color=colors[j % 10],
            capsize=3,
            label=f"{row['label']}: {row['examples_per_s']['mean']:,.0f} ex/s",
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters at inference (log scale)")
    ax.set_ylabel(f"accuracy on {task} (%)")
    ax.set_title(f"{task}: size-quality frontier (mean ± std over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run directories")
    parser.add_argument(
        "--with",
        dest="earlier",
        action="append",
        default=[],
        type=Path,
        help="an earlier frontier-*.json of one seed whose runs are not at hand, "
        "counted as that seed's runs",
    )
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument(
        "--suffix", default="", help="appended to the file names: frontier-<task><suffix>.json"
    )
    args = parser.parse_args()
    runs = [run for path in args.earlier for run in seeds_of(path)]
    if args.runs or not runs:
        runs += finished_runs(args.runs)
    if len({(r["task"], r["seed"], r["variant"]) for r in runs}) < len(runs):
        raise SystemExit("the same task, seed and variant appears twice among the runs")
    for task in sorted({r["task"] for r in runs}):
        mine = [r for r in runs if r["task"] == task]
        rows = collect(mine)
        seeds = sorted({r["seed"] for r in mine})
        out = Path(args.out_dir)
        result = {"task": task, "seeds": seeds, "rows": rows}
        atomic_write_json(out / f"frontier-{task}{args.suffix}.json", result)
        plot(rows, task, out / f"frontier-{task}{args.suffix}.png")
        print(f"{task}, seeds {','.join(map(str, seeds))}")
        print("| student or method | params | accuracy (%) | examples/s | run's train CPU min |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            train = row.get("run_train_cpu_seconds")
            print(
                f"| {row['label']} | {row['params'] / 1e6:.2f}M | {show(row['accuracy'])} "
                f"| {show(row['examples_per_s'], 1.0, 0)} "
                f"| {show(train, 1 / 60) if train else ''} |"
            )


if __name__ == "__main__":
    main()
