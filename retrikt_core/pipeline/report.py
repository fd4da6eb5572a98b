"""``report.md`` (and plots, when matplotlib is installed) for a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_text
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.records import jsonl_lines

METHOD_TITLES = {
    "teacher": "teacher",
    "kshot_student": "student, k-shot labels only",
    "kd_student": "student, vanilla KD on the knowledge (no retrieval)",
    "retrikt_student": "student + retrieval (RetriKT)",
}


def format_params(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def methods_table(metrics: dict[str, Any]) -> str:
    rows = [
        "| method | accuracy | macro-F1 | MCC | params | params / teacher | examples/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method, m in metrics["methods"].items():
        ratio = m.get("params_ratio_to_teacher")
        rows.append(
            f"| {METHOD_TITLES.get(method, method)} (`{method}`) | {m['accuracy']:.2%} "
            f"| {m['macro_f1']:.3f} | {m['mcc']:.3f} | {format_params(m['params'])} "
            f"| {'-' if ratio is None else f'{ratio:.2%}'} | {m['examples_per_s']:.1f} |"
        )
    return "\n".join(rows)


def stages_table(manifest: dict[str, Any]) -> str:
    rows = [
        "| stage | status | seconds | CPU s | finished | counts |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, record in manifest.get("stages", {}).items():
        counts = json.dumps(record.get("counts", {}), sort_keys=True)
        if len(counts) > 160:
            counts = counts[:157] + "..."
        rows.append(
            f"| {name} | {record.get('status')} | {record.get('seconds', '-')} "
            f"| {record.get('cpu_seconds', '-')} | {record.get('finished_at', '-')} "
            f"| `{counts}` |"
        )
    return "\n".join(rows)


def write_plots(run_dir: Path, metrics: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """Accuracy per method, the size-quality frontier and time per stage, as
    PNGs; none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    methods = list(metrics["methods"])
    accuracy = [metrics["methods"][m]["accuracy"] * 100 for m in methods]
    fig, ax = plt.subplots(figsize=(6, 3))
    bars = ax.barh(methods, accuracy, color="#4c72b0")
    ax.bar_label(bars, fmt="%.1f", padding=2)
    ax.set_xlabel(f"accuracy on {metrics['task']} {metrics.get('eval_split', '')} (%)")
    ax.set_xlim(0, 105)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(run_dir / "accuracy.png", dpi=110)
    plt.close(fig)
    written.append("accuracy.png")
    if plot_frontier(plt, metrics, run_dir / "frontier.png"):
        written.append("frontier.png")
    stages = {n: r.get("seconds", 0) for n, r in manifest.get("stages", {}).items()}
    fig, ax = plt.subplots(figsize=(6, 3))
    bars = ax.barh(list(stages), list(stages.values()), color="#55a868")
    ax.bar_label(bars, fmt="%.1fs", padding=2)
    ax.set_xlabel("wall-clock seconds (last run of each stage)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(run_dir / "stages.png", dpi=110)
    plt.close(fig)
    written.append("stages.png")
    history = _read_history(run_dir)
    if history:
        keys = [k for k in history[0] if k == "reward" or k.startswith("reward_") or k == "kl"]
        fig, axes = plt.subplots(1, len(keys), figsize=(3 * len(keys), 2.6), squeeze=False)
        for ax, key in zip(axes[0], keys, strict=True):
            for label in sorted({row["label"] for row in history}):
                rows = [r for r in history if r["label"] == label]
                ax.plot([r["step"] for r in rows], [r[key] for r in rows], label=f"label {label}")
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("PPO step", fontsize=8)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(run_dir / "reinforce.png", dpi=110)
        plt.close(fig)
        written.append("reinforce.png")
    return written


def plot_frontier(plt: Any, metrics: dict[str, Any], path: Path) -> bool:
    """The size-quality frontier: each method's accuracy against its
    parameters at inference (log scale), its examples/s beside it. False
    when no method reports a parameter count."""
    points = [
        (method, row["params"], row["accuracy"] * 100, row.get("examples_per_s"))
        for method, row in metrics["methods"].items()
        if row.get("params")
    ]
    if not points:
        return False
    colors = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for j, (method, params, accuracy, speed) in enumerate(points):
        ax.scatter([params], [accuracy], color=colors[j % 10], s=30, zorder=3)
        rate = f"{speed:,.0f} ex/s" if speed and speed != float("inf") else "- ex/s"
        ax.annotate(
            f"{method}\n{rate}",
            (params, accuracy),
            xytext=(5, 3),
            textcoords="offset points",
            fontsize=7,
        )
    ax.set_xscale("log")
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    ax.set_xlim(low / 2, high * 4)  # room for the labels on the right
    ax.set_xlabel("parameters at inference (log scale)")
    ax.set_ylabel(f"accuracy on {metrics['task']} (%)")
    ax.set_title("size-quality frontier (examples/s beside each method)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = RunDir(run_dir).history_file
    if not path.is_file():
        return []
    return [json.loads(line) for _, line in jsonl_lines(path.read_text(encoding="utf-8"))]


def write_report(
    run_dir: Path, metrics: dict[str, Any], manifest: dict[str, Any], config: Any
) -> Path:
    run_dir = Path(run_dir)
    plots = write_plots(run_dir, metrics, manifest)
    extract = manifest.get("stages", {}).get("extract", {}).get("counts", {})
    store = manifest.get("stages", {}).get("index", {}).get("counts", {})
    sections = config.to_dict()
    lines = [
        f"# retrikt run: {metrics['task']}",
        "",
        f"Config hash `{metrics['config_hash']}`; evaluated on {metrics.get('eval_examples')} "
        f"examples of split `{metrics.get('eval_split')}`.",
        "",
        "## Methods",
        "",
        methods_table(metrics),
        "",
    ]
    retrieving = metrics["methods"].get("retrikt_student", {})
    if "store_entries" in retrieving:
        lines += [
            f"The retrieving student's count includes its store's query encoder; the store "
            f"itself is data: {retrieving['store_entries']} entries, "
            f"{retrieving['store_bytes'] / 1e6:.2f} MB.",
            "",
        ]
    lines += [f"![{p}]({p})" for p in plots]
    lines += [
        "",
        "## Knowledge",
        "",
        f"- generated: {extract.get('generated', '-')}, kept: {extract.get('kept', '-')}",
        "- dropped: "
        + (
            ", ".join(f"{k[8:]} {v}" for k, v in extract.items() if k.startswith("dropped_"))
            or "none"
        ),
        f"- by source: {extract.get('by_source', {})}",
        f"- by teacher label: {extract.get('by_teacher_label', {})}",
    ]
    if "label_consistency" in extract:
        lines.append(
            f"- label consistency (teacher agrees with the requested label): "
            f"{extract['label_consistency']:.1%}"
        )
    stores = [f"`{sections[s]['plugin']}`" for s in ("store", "second_store") if s in sections]
    lines += [
        f"- store: {store.get('entries', '-')} entries, {store.get('bytes', 0) / 1e6:.2f} MB "
        f"({' + '.join(stores)})",
        "",
    ]
    by_source = retrieving.get("by_source")
    if by_source:
        lines += [
            "### Retrieval by knowledge source",
            "",
            "| source | share of retrieved neighbours | eval examples led by it "
            "| retrikt_student accuracy there |",
            "|---|---:|---:|---:|",
        ]
        for source, row in by_source.items():
            lines.append(
                f"| {source} | {row['neighbour_share']:.1%} | {row['top1_examples']} "
                f"| {row['top1_accuracy']:.1%} |"
            )
        lines.append("")
    lines += ["## Components", ""]
    for section in (
        "task",
        "generator",
        "second_source",
        "teacher",
        "optimizer",
        "store",
        "second_store",
        "retriever",
        "student",
    ):
        if section not in sections:
            continue
        options = {k: v for k, v in sections[section].items() if k != "plugin"}
        lines.append(f"- **{section}**: `{sections[section]['plugin']}` {json.dumps(options)}")
    lines += ["", "## Stages", "", stages_table(manifest), ""]
    path = RunDir(run_dir).report_file
    atomic_write_text(path, "\n".join(lines))
    return path
