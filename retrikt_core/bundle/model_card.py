"""The model card (README.md) of an exported bundle, written from the run's
metrics, config and manifest and from the bundle's own manifest and checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrikt_core.bundle.load import NATIVE, BundleManifest

RUNTIME_NAMES = {
    NATIVE: "native (the student plugin's own code)",
    "onnx": "ONNX (onnxruntime)",
    "onnx-int8": "ONNX int8 (dynamic quantisation)",
}


@dataclass
class CardInputs:
    """What a model card is written from."""

    manifest: BundleManifest
    metrics: dict[str, Any]
    config: dict[str, Any]
    run_manifest: dict[str, Any]
    export_command: str


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _component(config: dict[str, Any], section: str) -> str:
    options = dict(config.get(section) or {})
    plugin = options.pop("plugin", "?")
    model = options.get("model")
    return f"`{plugin}`" + (f" (model `{model}`)" if model else "")


def _metrics_table(metrics: dict[str, Any], exported: str) -> list[str]:
    lines = [
        "| method | accuracy | macro-F1 | params | params / teacher | examples/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method, row in metrics.get("methods", {}).items():
        ratio = row.get("params_ratio_to_teacher")
        name = f"**{method}** (this bundle)" if method == exported else method
        lines.append(
            f"| {name} | {row['accuracy']:.2%} | {row['macro_f1']:.3f} | {row['params']:,} | "
            f"{'-' if ratio is None else f'{ratio:.2%}'} | {row['examples_per_s']:.1f} |"
        )
    return lines


def _checks(manifest: BundleManifest) -> list[str]:
    checks = manifest.checks
    if not checks:
        return []
    lines = [
        "",
        f"## Runtimes, checked at export on the run's eval split ({checks['examples']} examples)",
        "",
        "| runtime | accuracy | same label as native | largest probability difference |",
        "|---|---:|---:|---:|",
    ]
    for runtime, row in checks["runtimes"].items():
        lines.append(
            f"| {RUNTIME_NAMES.get(runtime, runtime)} | {row['accuracy']:.2%} | "
            f"{row['same_label']:.2%} | {row['max_abs_diff']:.2g} |"
        )
    if checks.get("native_vs_run") is not None:
        lines += [
            "",
            "The native runtime reproduces the run's own evaluation predictions to "
            f"{checks['native_vs_run']:.2g} (largest probability difference).",
        ]
    return lines


def _intro(m: BundleManifest) -> str:
    task = m.task
    described = f" ({task['description']})" if task.get("description") else ""
    made = f"A tiny student for **{task['name']}**{described}, exported by retrikt "
    made += f"{m.retrikt_version} on {m.created_at}."
    if not m.retrieval:
        return made + " It does not retrieve: its own prediction is the answer."
    return (
        made + " It combines its own prediction with the teacher labels of the entries "
        "it retrieves from the bundled knowledge store (RetriKT, Liu et al., Findings of "
        "EMNLP 2023)."
    )


def model_card(inputs: CardInputs) -> str:
    """README.md text for a bundle."""
    m, metrics, config = inputs.manifest, inputs.metrics, inputs.config
    task = m.task
    row = metrics.get("methods", {}).get(m.method, {})
    teacher = metrics.get("methods", {}).get("teacher", {})
    stages = inputs.run_manifest.get("stages", {})
    extract = stages.get("extract", {}).get("counts", {})
    teacher_params = teacher.get("params") or stages.get("teacher", {}).get("counts", {}).get(
        "params"
    )
    student_params = row.get("params", m.student.get("params"))
    labels = ", ".join(f"`{name}`" for name in task["label_names"])
    example = '("a premise", "a hypothesis")' if task.get("is_pair") else '"some text"'
    lines = [
        f"# {task['name']}: retrikt {m.method} ({m.student['name']})",
        "",
        _intro(m),
        "",
        f"- **Labels**: {labels}" + (" (sentence pairs)" if task.get("is_pair") else ""),
        f"- **Student**: `{m.student['name']}`, {student_params:,} parameters"
        + (
            f", {student_params / teacher_params:.2%} of the teacher's {teacher_params:,}"
            if teacher_params and student_params
            else ""
        ),
        f"- **Teacher**: {_component(config, 'teacher')}",
        f"- **Knowledge generator**: {_component(config, 'generator')}, "
        f"optimizer {_component(config, 'optimizer')}",
    ]
    if m.retrieval:
        stores = ", ".join(
            f"`{s['name']}` ({s['entries']:,} entries, {_size(s['bytes'])})" for s in m.stores
        )
        r = m.retrieval
        lines += [
            f"- **Knowledge store**: {stores}"
            + (
                f"; {extract['kept']:,} entries kept of {extract['generated']:,} generated"
                if "kept" in extract and "generated" in extract
                else ""
            ),
            f"- **Retrieval**: `{r.retriever.get('plugin')}`, k = {r.k}; interpolation "
            f"λ = {r.lam:.3f}, neighbour temperature = {r.knn_temperature:.3g}"
            if r.lam is not None and r.knn_temperature is not None
            else f"- **Retrieval**: `{r.retriever.get('plugin')}`, k = {r.k}",
        ]
    lines += [
        f"- **Bundle size**: student {_size(m.bytes_under(m.student['dir']))}"
        + (f", stores {_size(m.bytes_under('stores'))}" if m.stores else ""),
        f"- **Runtimes**: {', '.join(RUNTIME_NAMES.get(r, r) for r in m.runtimes)}; "
        f"default `{m.default_runtime}`",
        "",
        f"## Results of the run ({task.get('eval_split', 'eval')} split, "
        f"{metrics.get('eval_examples')} examples)",
        "",
        *_metrics_table(metrics, m.method),
        "",
        "Speeds are the run's own measurements on the machine that made it.",
        *_checks(m),
        "",
        "## Use",
        "",
        "```python",
        "from retrikt_core.bundle.load import load_bundle",
        "",
        'bundle = load_bundle("BUNDLE_DIR")',
        f"for p in bundle.predict([{example}]):",
        "    print(p.label, p.probabilities, p.neighbors)",
        "```",
        "",
        "or `retrikt predict BUNDLE_DIR "
        + ('"a premise ||| a hypothesis"' if task.get("is_pair") else '"some text"')
        + "`. Loading needs retrikt-core and the student's and store's plugins "
        f"(`{m.student.get('package', '?')}`"
        + "".join(f", `{s.get('package', '?')}`" for s in m.stores)
        + "); it never loads the generator or the teacher.",
        "",
        "## How it was made",
        "",
        "```bash",
        f"retrikt run config.toml   # the run's config: config.toml / config.json here "
        f"(config {metrics.get('config_hash', '?')})",
        inputs.export_command,
        "```",
        "",
        f"Source run: `{m.source.get('run_dir')}`. Every file of the bundle is listed with "
        "its size and sha256 in `bundle.json`; loading refuses a bundle that does not match.",
        "",
    ]
    return "\n".join(lines)
