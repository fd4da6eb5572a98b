"""The ``retrikt`` command line (Typer + rich). It only wires: configs in,
pipeline runs, tables out. Heavy libraries load inside plugins, on demand."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from retrikt_core.config import ConfigError, apply_overrides, load_toml, validate
from retrikt_core.plugins import get_plugins
from retrikt_core.registry import UnknownComponentError

app = typer.Typer(
    help="retrikt: retrieval-based knowledge transfer from an LLM into a tiny model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def load_config(path: Path, overrides: list[str], run_dir: Path | None):
    """Read, override and validate a run config, or exit with the error."""
    from retrikt_core.config import RunConfig

    plugins = get_plugins()
    try:
        raw = apply_overrides(load_toml(path), overrides)
        config: RunConfig = validate(raw, plugins.registry, source=str(path))
    except (ConfigError, UnknownComponentError) as exc:
        fail(str(exc))
    if run_dir is not None:
        config.run.run_dir = str(run_dir)
    return config, plugins


def run_or_exit(work, kept: str):
    """``work()``, with a config or pipeline error reported (exit 2) and an
    interrupt reported as resumable (exit 130)."""
    from retrikt_core.pipeline import PipelineError

    try:
        return work()
    except (ConfigError, PipelineError, UnknownComponentError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print(
            f"[yellow]interrupted[/yellow]: finished {kept} are kept; run the same command "
            "again to resume."
        )
        raise typer.Exit(130) from None


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: stop, keep what is done
    raise KeyboardInterrupt


@app.command()
def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="run config (TOML)")],
    set_: Annotated[list[str], typer.Option("--set", help="override: section.key=value")] = [],  # noqa: B006
    run_dir: Annotated[
        Path | None, typer.Option(help="run directory (default: run.run_dir)")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with task data (sets RETRIKT_DATA_DIR)")
    ] = None,
    from_stage: Annotated[
        str | None, typer.Option("--from", help="rerun from this stage on")
    ] = None,
    until_stage: Annotated[
        str | None, typer.Option("--until", help="stop after this stage")
    ] = None,
) -> None:
    """Run the pipeline for CONFIG; finished, unchanged stages are skipped."""
    from retrikt_core.pipeline import Pipeline

    if data_dir is not None:
        os.environ["RETRIKT_DATA_DIR"] = str(data_dir)
    config, plugins = load_config(config_path, set_, run_dir)
    pipeline = Pipeline(
        config, plugins, config.run.run_dir, echo=lambda m: console.print(m, highlight=False)
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    console.print(f"[bold]retrikt run[/bold] {config_path} → {pipeline.run_dir}")
    metrics = run_or_exit(lambda: pipeline.run(from_stage, until_stage), "stages")
    if metrics is None:
        console.print(f"stopped after stage {until_stage!r}; {pipeline.run_dir}")
        return
    console.print(metrics_table(metrics))
    console.print(f"report: {pipeline.run_dir / 'report.md'}")


def metrics_table(metrics: dict) -> Table:
    table = Table(title=f"{metrics['task']} ({metrics.get('eval_examples')} eval examples)")
    for column in ("method", "accuracy", "macro-F1", "params", "params/teacher", "examples/s"):
        if column == "method":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for method, m in metrics["methods"].items():
        ratio = m.get("params_ratio_to_teacher")
        table.add_row(
            method,
            f"{m['accuracy']:.2%}",
            f"{m['macro_f1']:.3f}",
            f"{m['params']:,}",
            "-" if ratio is None else f"{ratio:.2%}",
            f"{m['examples_per_s']:.1f}",
        )
    return table


GRID_HELP = "section.key=v1,v2,...: values to try; repeat for more keys (every combination runs)"


@app.command()
def bench(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="run config (TOML)")],
    grid: Annotated[list[str], typer.Option("--grid", help=GRID_HELP)] = [],  # noqa: B006
    seeds: Annotated[
        str | None, typer.Option(help="comma-separated seeds, each a run (overrides run.seed)")
    ] = None,
    bench_dir: Annotated[
        Path | None, typer.Option(help="runs, stage cache and tables (default: RUN_DIR-bench)")
    ] = None,
    set_: Annotated[list[str], typer.Option("--set", help="override: section.key=value")] = [],  # noqa: B006
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with task data (sets RETRIKT_DATA_DIR)")
    ] = None,
    reuse: Annotated[
        list[Path],
        typer.Option(
            "--reuse",
            metavar="RUN_DIR",
            help="a finished run whose stages runs with the same keys (same seed and "
            "upstream config) take instead of computing them; repeatable",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Run CONFIG for every combination of --grid values and --seeds, sharing finished
    stages; writes bench.json, bench.csv, bench.md and plots."""
    from retrikt_core.bench import Bench, plan_bench
    from retrikt_core.bench_report import rich_table

    if data_dir is not None:
        os.environ["RETRIKT_DATA_DIR"] = str(data_dir)
    plugins = get_plugins()
    try:
        plan = plan_bench(config_path, grid, plugins.registry, seeds, set_, bench_dir)
        runner = Bench(plan, plugins, echo=lambda m: console.print(m, highlight=False))
        runner.check()
        offered = {str(path): runner.reuse(path) for path in reuse}
    except (ConfigError, UnknownComponentError) as exc:
        fail(str(exc))
    signal.signal(signal.SIGTERM, _raise_interrupt)
    console.print(
        f"[bold]retrikt bench[/bold] {config_path}: {len(plan.runs)} runs → {plan.bench_dir}"
    )
    for path, stages in offered.items():
        console.print(f"stages offered from {path}: {', '.join(stages) or 'none finished'}")
    result = run_or_exit(runner.run, "runs and stages")
    console.print(rich_table(result.data))
    console.print(f"tables and plots: {', '.join(str(plan.bench_dir / f) for f in result.files)}")


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List installed plugins and the components each provides."""
    infos = get_plugins().list()
    if as_json:
        typer.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    table = Table(title="retrikt plugins")
    for column in ("plugin", "package", "version", "components"):
        table.add_column(column)
    for info in infos:
        parts = [f"{kind}: {', '.join(names)}" for kind, names in info.components.items()]
        if info.error:
            parts.append(f"[red]error: {info.error}[/red]")
        table.add_row(info.name, info.package, info.version, "\n".join(parts))
    console.print(table)


@app.command()
def show(run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR")]) -> None:
    """Show a run's stages (status, time, counts) and its metrics."""
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        fail(f"{run_dir}: no manifest.json; not a retrikt run directory")
    manifest = json.loads(manifest_path.read_text())
    table = Table(
        title=f"{run_dir} (task {manifest.get('task')}, config {manifest.get('config_hash')})"
    )
    for column in ("stage", "status", "seconds", "finished", "counts"):
        table.add_column(column)
    from retrikt_core.pipeline import STAGE_NAMES

    for name in STAGE_NAMES:
        record = manifest["stages"].get(name)
        if record is None:
            table.add_row(name, "[dim]not run[/dim]", "", "", "")
            continue
        status = record.get("status", "?")
        color = {"finished": "green", "running": "yellow", "interrupted": "yellow"}.get(
            status, "red"
        )
        counts = json.dumps(record.get("counts", record.get("error", "")))
        table.add_row(
            name,
            f"[{color}]{status}[/{color}]",
            str(record.get("seconds", "")),
            record.get("finished_at", ""),
            counts[:120],
        )
    console.print(table)
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        console.print(metrics_table(json.loads(metrics_path.read_text())))
        console.print(f"report: {run_dir / 'report.md'}")


TEXTS_HELP = "texts to label; 'premise ||| hypothesis' for sentence pairs"
FILE_HELP = "JSONL (fields text, text_pair) or CSV/TSV with those columns"


RUNTIME_HELP = "bundles: native, onnx or onnx-int8 (auto = the bundle's default)"


@app.command()
def predict(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR|BUNDLE", help="a finished run or an exported bundle")
    ],
    texts: Annotated[list[str] | None, typer.Argument(help=TEXTS_HELP)] = None,
    file: Annotated[Path | None, typer.Option(help=FILE_HELP)] = None,
    method: Annotated[
        str | None, typer.Option(help="which student of a run (default retrikt_student)")
    ] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "auto",
    top: Annotated[int, typer.Option(help="neighbours shown per prediction")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output")] = False,
) -> None:
    """Label texts with a run's student or a bundle, showing the neighbours behind each
    decision."""
    from retrikt_core.bundle import is_bundle, load_bundle
    from retrikt_core.predict import RunPredictor, read_inputs

    try:
        if is_bundle(run_dir):
            predictor = load_bundle(run_dir, runtime)
            if method not in (None, predictor.manifest.method):
                fail(f"--method {method}: {run_dir} is a bundle of {predictor.manifest.method}")
        else:
            if runtime not in ("auto", "native"):
                fail(f"--runtime {runtime}: only bundles have other runtimes; see retrikt export")
            predictor = RunPredictor(run_dir, method or "retrikt_student")
        examples = read_inputs(texts or [], file, predictor.task["is_pair"])
    except (FileNotFoundError, ValueError, UnknownComponentError) as exc:
        fail(str(exc))
    if not examples:
        fail("no inputs: give texts as arguments or --file")
    for example, result in zip(examples, predictor.predict(examples, top), strict=True):
        if as_json:
            typer.echo(
                json.dumps(
                    {"text": example.text, "text_pair": example.text_pair, **result.to_dict()}
                )
            )
            continue
        probs = ", ".join(f"{k} {v:.2f}" for k, v in result.probabilities.items())
        shown = (
            example.text if example.text_pair is None else f"{example.text} ||| {example.text_pair}"
        )
        console.print(
            f"[bold]{escape(result.label)}[/bold] ({probs})  {escape(shown)}", highlight=False
        )
        for n in result.neighbors:
            pair = f" ||| {n['text_pair']}" if n["text_pair"] else ""
            line = f"    {n['score']:.3f} [{n['teacher_label']}] {n['text']}{pair}"
            console.print(escape(line), highlight=False, style="dim")


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a finished run")],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="the bundle folder to write")],
    onnx: Annotated[
        bool, typer.Option("--onnx", help="also the student's model as ONNX (onnxruntime)")
    ] = False,
    quantize: Annotated[
        str | None,
        typer.Option(metavar="int8", help="also an int8 dynamically quantised ONNX model"),
    ] = None,
    method: Annotated[str, typer.Option(help="which student of the run")] = "retrikt_student",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace OUT_DIR if it holds a bundle")
    ] = False,
    push_to_hub: Annotated[
        str | None,
        typer.Option(metavar="REPO_ID", help="then upload it to the Hugging Face Hub (network)"),
    ] = None,
) -> None:
    """Write a self-contained bundle (student, store, settings, model card) from a run."""
    import shlex
    import sys

    from retrikt_core.bundle import BundleError
    from retrikt_core.bundle_export import ExportOptions, export_bundle

    command = shlex.join(["retrikt", *sys.argv[1:]]) if sys.argv[1:2] == ["export"] else None
    options = ExportOptions(
        method=method, onnx=onnx, quantize=quantize, overwrite=overwrite, command=command
    )
    try:
        manifest = export_bundle(
            run_dir, out_dir, options, echo=lambda m: console.print(m, highlight=False)
        )
    except (BundleError, FileNotFoundError, RuntimeError, UnknownComponentError) as exc:
        fail(str(exc))
    console.print(bundle_table(out_dir, manifest))
    console.print(f"model card: {out_dir / 'README.md'}")
    if push_to_hub:
        from retrikt_core.bundle_export import push_to_hub as push

        console.print(f"uploaded: {push(out_dir, push_to_hub)}")


def bundle_table(out_dir: Path, manifest) -> Table:
    """Each runtime of a bundle: its size and its check on the run's eval split."""
    checks = manifest.checks.get("runtimes", {})
    table = Table(
        title=f"{out_dir}: {manifest.task['name']} {manifest.method} ({manifest.student['name']})"
    )
    for column in ("runtime", "student bytes", "accuracy", "same label", "max |Δp|"):
        table.add_column(column, justify="left" if column == "runtime" else "right")
    student_dir = manifest.student["dir"]
    onnx_files = {f for f in manifest.runtimes.values() if f}
    for runtime, file in manifest.runtimes.items():
        if file:
            size = manifest.files[f"{student_dir}/{file}"].bytes
        else:  # the native files: everything in the student folder but the ONNX models
            size = sum(
                r.bytes
                for name, r in manifest.files.items()
                if name.startswith(student_dir + "/") and name.split("/")[-1] not in onnx_files
            )
        check = checks.get(runtime)
        default = " (default)" if runtime == manifest.default_runtime else ""
        table.add_row(
            runtime + default,
            f"{size:,}",
            "-" if check is None else f"{check['accuracy']:.2%}",
            "-" if check is None else f"{check['same_label']:.2%}",
            "-" if check is None else f"{check['max_abs_diff']:.2g}",
        )
    if manifest.stores:
        stores = ", ".join(f"{s['name']} {s['entries']:,} entries" for s in manifest.stores)
        table.caption = f"stores: {stores}, {manifest.bytes_under('stores'):,} bytes"
    return table


config_app = typer.Typer(help="Inspect configuration options.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("schema")
def config_schema_command(
    markdown: Annotated[bool, typer.Option("--markdown", help="the docs page, not JSON")] = False,
) -> None:
    """Every config section and option of the installed plugins (JSON or Markdown)."""
    from retrikt_core.schema import config_schema, schema_markdown

    schema = config_schema(get_plugins().registry)
    typer.echo(
        schema_markdown(schema) if markdown else json.dumps(schema, indent=2, default=str),
        nl=not markdown,
    )


store_app = typer.Typer(help="Inspect a run's knowledge store(s).", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("inspect")
def store_inspect_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a run past `index`")],
    query: Annotated[
        list[str], typer.Option(help="show the entries nearest this text (repeatable)")
    ] = [],  # noqa: B006
    samples: Annotated[int, typer.Option(help="random entries shown per store")] = 5,
    k: Annotated[int, typer.Option(help="neighbours shown per query")] = 5,
    seed: Annotated[int, typer.Option(help="seed for the random sample")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Size, label balance, sources and sample entries of a run's store(s), and
    the nearest neighbours of query texts."""
    from retrikt_core.predict import PAIR_SEPARATOR
    from retrikt_core.records import Example
    from retrikt_core.store_inspect import RunStores

    try:
        stores = RunStores(run_dir)
    except (FileNotFoundError, ValueError, UnknownComponentError) as exc:
        fail(str(exc))
    summaries = stores.summaries(samples, seed)
    queries = []
    for text in query:
        first, _, second = text.partition(PAIR_SEPARATOR)
        queries.append(Example(text=first, text_pair=second or None) if second else Example(text))
    nearest = [stores.nearest(q, k) for q in queries]
    if as_json:
        payload = {
            "stores": [s.to_dict() for s in summaries],
            "queries": [{"query": t, "nearest": n} for t, n in zip(query, nearest, strict=True)],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    for s in summaries:
        table = Table(
            title=escape(f"[{s.section}] {s.plugin}: {s.entries} entries, {s.bytes:,} bytes")
        )
        table.add_column("")
        table.add_column("value", overflow="fold")
        table.add_row("encoder", s.encoder or "-")
        table.add_row("teacher labels", ", ".join(f"{k} {v}" for k, v in s.teacher_labels.items()))
        if s.requested_labels:
            table.add_row(
                "requested labels", ", ".join(f"{k} {v}" for k, v in s.requested_labels.items())
            )
        if s.label_consistency is not None:
            table.add_row("label consistency", f"{s.label_consistency:.1%}")
        table.add_row("mean teacher confidence", f"{s.mean_confidence:.3f}")
        table.add_row("sources", ", ".join(f"{k} {v}" for k, v in s.sources.items()))
        for row in s.samples:
            pair = f" ||| {row['text_pair']}" if row["text_pair"] else ""
            table.add_row(
                f"[dim]{row['id']}[/dim]",
                escape(f"[{row['teacher_label']} {row['confidence']:.2f}] {row['text']}{pair}"),
            )
        console.print(table)
    for text, per_store in zip(query, nearest, strict=True):
        console.print(f"[bold]nearest to[/bold] {escape(text)}", highlight=False)
        for section, rows in per_store.items():
            console.print(f"  [{section}]", style="dim", highlight=False, markup=False)
            for row in rows:
                pair = f" ||| {row['text_pair']}" if row["text_pair"] else ""
                line = f"    {row['score']:.3f} [{row['teacher_label']}] {row['text']}{pair}"
                console.print(escape(line), highlight=False)


def main() -> None:
    # Plugins may add commands (listed by --help too); plugin modules import
    # no heavy libraries, and a broken plugin is reported by `retrikt plugins`.
    get_plugins().hook.register_commands(cli=app)
    app()


if __name__ == "__main__":
    main()
