"""``bench.md``, plots and the terminal table for a ``retrikt bench``.

Everything here reads the ``bench.json`` data that :mod:`retrikt_core.bench.grid`
builds; matplotlib is imported only when plots are drawn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_text
from retrikt_core.pipeline.report import format_params

PLOTS = ("bench_accuracy.png", "bench_params.png", "bench_stages.png")


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict | bool) else str(value)


def _pct(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.1%}" if std is None else f"{mean:.1%} ± {std * 100:.1f}"


def _num(mean: float | None, std: float | None, digits: int = 3) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _grid_cells(data: dict[str, Any], grid: dict[str, Any]) -> list[str]:
    return [_show(grid[k]) for k in data["grid"]] or ["base"]


def _grid_header(data: dict[str, Any]) -> list[str]:
    return [f"`{k}`" for k in data["grid"]] or ["config"]


def _methods(data: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(s["method"] for s in data["summary"]))


def _md_table(
    header: list[str], rows: list[list[str]], right_from: int, right_to: int | None = None
) -> list[str]:
    """A Markdown table whose columns ``right_from:right_to`` (numbers) align right."""
    right = range(right_from, len(header) if right_to is None else right_to)
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown(data: dict[str, Any], plots: list[str]) -> str:
    """The bench as Markdown: accuracy per combination (mean ± std over seeds),
    all metrics, stage times and reuse, and one line per run."""
    rows = data["runs"]
    task = rows[0]["task"] if rows else "?"
    grid = "; ".join(f"`{k}` = {', '.join(map(_show, v))}" for k, v in data["grid"].items())
    seeds = ", ".join(map(str, data["seeds"]))
    lines = [
        f"# retrikt bench: {task}",
        "",
        f"Config `{data['config']}`"
        + (
            f" with `{' '.join('--set ' + o for o in data['overrides'])}`"
            if data["overrides"]
            else ""
        )
        + f"; grid {grid or '(none)'}; seeds {seeds}. "
        f"{data['runs_finished']} of {data['runs_planned']} runs finished.",
        "",
        "Mean ± sample standard deviation over seeds (no ± with one seed).",
        "",
        "## Accuracy",
        "",
    ]
    methods = _methods(data)
    by_combo: dict[str, dict[str, dict[str, Any]]] = {}
    for s in data["summary"]:
        by_combo.setdefault(s["combo"], {})[s["method"]] = s
    table = []
    for entries in by_combo.values():
        first = next(iter(entries.values()))
        cells = _grid_cells(data, first["grid"])
        cells += [
            _pct(entries[m]["accuracy_mean"], entries[m]["accuracy_std"]) if m in entries else "-"
            for m in methods
        ]
        table.append(cells + [str(len(first["seeds"]))])
    header = _grid_header(data)
    lines += _md_table(header + methods + ["seeds"], table, len(header))
    lines += ["", "## All metrics", ""]
    table = [
        _grid_cells(data, s["grid"])
        + [
            s["method"],
            _pct(s["accuracy_mean"], s["accuracy_std"]),
            _num(s["macro_f1_mean"], s["macro_f1_std"]),
            format_params(None if s["params_mean"] is None else round(s["params_mean"])),
            _num(s["examples_per_s_mean"], s["examples_per_s_std"], 1),
            str(len(s["seeds"])),
        ]
        for s in data["summary"]
    ]
    cols = ["method", "accuracy", "macro-F1", "params", "examples/s", "seeds"]
    lines += _md_table(header + cols, table, len(header) + 1)
    stage_names = list(dict.fromkeys(n for s in data["stages"] for n in s["seconds"]))
    lines += [
        "",
        "## Stage seconds",
        "",
        "Mean wall-clock seconds over seeds. A reused stage was computed by another "
        "run of the bench and counts that run's time; *computed* sums the stages "
        "this combination's runs computed themselves.",
        "",
    ]
    table = []
    for s in data["stages"]:
        grid_values = next(r["grid"] for r in rows if r["combo"] == s["combo"])
        reused = [f"{n} {s['reused'][n]}/{s['runs']}" for n in stage_names if s["reused"].get(n)]
        table.append(
            _grid_cells(data, grid_values)
            + [f"{s['seconds'].get(n, 0):.1f}" for n in stage_names]
            + [f"{s['computed_seconds']:.1f}", ", ".join(reused) or "-"]
        )
    columns = header + stage_names + ["computed", "reused (runs)"]
    lines += _md_table(columns, table, len(header), len(columns) - 1)
    lines += [""]
    lines += [f"![{p}]({p})" for p in plots]
    lines += ["", "## Runs", ""]
    table = [
        [
            r["run"],
            *(
                _pct(r["methods"][m]["accuracy"], None) if m in r["methods"] else "-"
                for m in methods
            ),
            f"{r['computed_seconds']:.1f}",
            ", ".join(r["reused_stages"]) or "-",
            f"`{r['run_dir']}`",
        ]
        for r in rows
    ]
    columns = ["run", *methods, "computed s", "reused", "run dir"]
    lines += _md_table(columns, table, 1, len(columns) - 2)
    return "\n".join(lines) + "\n"


def write_markdown(bench_dir: Path, data: dict[str, Any], plots: list[str]) -> Path:
    path = Path(bench_dir) / "bench.md"
    atomic_write_text(path, markdown(data, plots))
    return path


def write_bench_plots(bench_dir: Path, data: dict[str, Any]) -> list[str]:
    """Accuracy per grid combination (spread over seeds), accuracy against
    student parameters, and time per stage; none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    if not data["runs"]:
        return []
    bench_dir = Path(bench_dir)
    colors = plt.get_cmap("tab10").colors
    methods = _methods(data)
    combos = list(dict.fromkeys(s["combo"] for s in data["summary"]))
    ticks = [c.replace(", ", "\n") for c in combos]
    per_run = {
        (r["combo"], m): [] for r in data["runs"] for m in r["methods"]
    }  # (combo, method) -> accuracies of each seed
    for r in data["runs"]:
        for m, row in r["methods"].items():
            per_run[(r["combo"], m)].append(row["accuracy"] * 100)
    written = []

    # 1. accuracy per component choice, mean ± std with each seed as a dot
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(combos) + 2.5), 3.6))
    width = 0.7 / max(len(methods), 1)
    for j, method in enumerate(methods):
        offset = (j - (len(methods) - 1) / 2) * width
        entries = {s["combo"]: s for s in data["summary"] if s["method"] == method}
        xs = [i + offset for i, c in enumerate(combos) if c in entries]
        means = [entries[c]["accuracy_mean"] * 100 for c in combos if c in entries]
        stds = [(entries[c]["accuracy_std"] or 0) * 100 for c in combos if c in entries]
        ax.errorbar(
            xs, means, yerr=stds, fmt="o", color=colors[j % 10], capsize=3, label=method, ms=5
        )
        for i, combo in enumerate(combos):
            seeds = per_run.get((combo, method), [])
            ax.scatter([i + offset] * len(seeds), seeds, s=9, color=colors[j % 10], alpha=0.45)
    ax.set_xticks(range(len(combos)), ticks, fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(
        f"{data['runs'][0]['task']}: mean ± std over seeds {_seed_text(data)} (dots: seeds)",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(bench_dir / PLOTS[0], dpi=110)
    plt.close(fig)
    written.append(PLOTS[0])

    # 2. accuracy against student (and teacher) parameters
    markers = "osD^v<>Pp*hX"
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for j, method in enumerate(methods):
        for i, combo in enumerate(combos):
            s = next(
                (e for e in data["summary"] if e["combo"] == combo and e["method"] == method),
                None,
            )
            if s is None or not s["params_mean"]:
                continue
            ax.errorbar(
                s["params_mean"],
                s["accuracy_mean"] * 100,
                yerr=(s["accuracy_std"] or 0) * 100,
                fmt=markers[i % len(markers)],
                color=colors[j % 10],
                capsize=3,
                ms=6,
                alpha=0.85,
            )
            speed = s.get("examples_per_s_mean")
            if speed and speed != float("inf"):
                ax.annotate(
                    f"{speed:,.0f}/s",
                    (s["params_mean"], s["accuracy_mean"] * 100),
                    xytext=(5, -9),
                    textcoords="offset points",
                    fontsize=6,
                    color=colors[j % 10],
                )
    ax.set_xscale("log")
    ax.set_xlabel("parameters at inference (log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    handles = [
        plt.Line2D([], [], color=colors[j % 10], marker="o", ls="", label=m)
        for j, m in enumerate(methods)
    ]
    if len(combos) > 1:
        handles += [
            plt.Line2D([], [], color="grey", marker=markers[i % len(markers)], ls="", label=c)
            for i, c in enumerate(combos)
        ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(
        "size-quality frontier: accuracy against parameters (mean ± std over seeds; "
        "examples/s beside)",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(bench_dir / PLOTS[1], dpi=110)
    plt.close(fig)
    written.append(PLOTS[1])

    # 3. time per stage, stacked per combination; reused stages hatched
    stages = data["stages"]
    names = list(dict.fromkeys(n for s in stages for n in s["seconds"]))
    fig, ax = plt.subplots(figsize=(7.5, max(2.4, 0.55 * len(stages) + 1.4)))
    labels = [s["combo"].replace(", ", "\n") for s in stages]
    left = [0.0] * len(stages)
    for j, name in enumerate(names):
        widths = [s["seconds"].get(name, 0.0) for s in stages]
        reused = [s["reused"].get(name, 0) == s["runs"] for s in stages]
        bars = ax.barh(labels, widths, left=left, color=colors[j % 10], label=name)
        for bar, was_reused in zip(bars, reused, strict=True):
            if was_reused:
                bar.set_hatch("///")
                bar.set_alpha(0.45)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, s in enumerate(stages):
        ax.text(left[y], y, f" computed {s['computed_seconds']:.1f}s", va="center", fontsize=7)
    ax.set_xlim(0, max(left) * 1.3 if max(left) > 0 else 1)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("seconds per stage, mean over seeds (hatched: reused from another run)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(bench_dir / PLOTS[2], dpi=110)
    plt.close(fig)
    written.append(PLOTS[2])
    return written


def _seed_text(data: dict[str, Any]) -> str:
    return ",".join(map(str, data["seeds"]))


def rich_table(data: dict[str, Any]):
    """The summary as a rich table for the terminal."""
    from rich.table import Table

    rows = data["runs"]
    task = rows[0]["task"] if rows else "?"
    table = Table(
        title=f"bench: {task} ({data['runs_finished']} runs, seeds {_seed_text(data)}; "
        "mean ± std over seeds)"
    )
    for key in data["grid"] or ["config"]:
        table.add_column(key, no_wrap=True)
    table.add_column("method", no_wrap=True)
    for column in ("accuracy", "macro-F1", "params", "examples/s", "seeds"):
        table.add_column(column, justify="right")
    previous = None
    for s in data["summary"]:
        cells = _grid_cells(data, s["grid"])
        if s["combo"] != previous and previous is not None:
            table.add_section()
        previous = s["combo"]
        table.add_row(
            *cells,
            s["method"],
            _pct(s["accuracy_mean"], s["accuracy_std"]),
            _num(s["macro_f1_mean"], s["macro_f1_std"]),
            "-" if s["params_mean"] is None else f"{round(s['params_mean']):,}",
            _num(s["examples_per_s_mean"], None, 1),
            str(len(s["seeds"])),
        )
    return table
