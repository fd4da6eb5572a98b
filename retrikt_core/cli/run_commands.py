"""``retrikt run``, ``bench`` and ``show``: running and reading runs."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from retrikt_core.cli.app import (
    app,
    console,
    fail,
    load_config,
    raise_interrupt,
    run_or_exit,
    user_errors,
)
from retrikt_core.plugins import get_plugins


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
    signal.signal(signal.SIGTERM, raise_interrupt)
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
    from retrikt_core.bench.plots import rich_table

    if data_dir is not None:
        os.environ["RETRIKT_DATA_DIR"] = str(data_dir)
    plugins = get_plugins()
    with user_errors():
        plan = plan_bench(config_path, grid, plugins.registry, seeds, set_, bench_dir)
        runner = Bench(plan, plugins, echo=lambda m: console.print(m, highlight=False))
        runner.check()
        offered = {str(path): runner.reuse(path) for path in reuse}
    signal.signal(signal.SIGTERM, raise_interrupt)
    console.print(
        f"[bold]retrikt bench[/bold] {config_path}: {len(plan.runs)} runs → {plan.bench_dir}"
    )
    for path, stages in offered.items():
        console.print(f"stages offered from {path}: {', '.join(stages) or 'none finished'}")
    result = run_or_exit(runner.run, "runs and stages")
    console.print(rich_table(result.data))
    console.print(f"tables and plots: {', '.join(str(plan.bench_dir / f) for f in result.files)}")


@app.command()
def show(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="a run directory (the --run-dir of `retrikt run`, or run.run_dir)",
        ),
    ],
) -> None:
    """Show a run's stages (status, time, counts) and its metrics. A stage whose
    process is gone shows as interrupted, one whose folder was deleted as
    missing, and one computed from a replaced upstream output as stale."""
    from retrikt_core.pipeline import STAGE_NAMES, RunDir

    run = RunDir(run_dir)
    if not run.is_run():
        fail(f"{run_dir}: no manifest.json; not a retrikt run directory")
    with user_errors():
        manifest = run.manifest()
    table = Table(
        title=f"{run_dir} (task {manifest.get('task')}, config {manifest.get('config_hash')})"
    )
    for column in ("stage", "status", "seconds", "finished", "counts"):
        table.add_column(column)
    colors = {"finished": "green", "running": "cyan", "interrupted": "yellow", "stale": "yellow"}
    for name in STAGE_NAMES:
        record = manifest["stages"].get(name)
        if record is None:
            table.add_row(name, "[dim]not run[/dim]", "", "", "")
            continue
        status = run.stage_status(name, manifest)
        color = colors.get(status, "red")
        counts = json.dumps(record.get("counts", record.get("error", "")))
        table.add_row(
            name,
            f"[{color}]{status}[/{color}]",
            str(record.get("seconds", "")),
            record.get("finished_at", ""),
            counts[:120],
        )
    console.print(table)
    if run.metrics_file.is_file():
        with user_errors():
            metrics = run.metrics()
            staged = run.evaluated_metrics_file
            evaluated = run.read_json(staged) if staged.is_file() else metrics
            if metrics != evaluated:
                # Edited, or left by a run whose evaluate stage was redone since.
                console.print(
                    f"[yellow]warning: {run.metrics_file} is not the metrics of the evaluate "
                    f"stage; showing {staged}[/yellow]"
                )
                metrics = evaluated
            try:
                table = metrics_table(metrics)
            except (KeyError, TypeError, AttributeError, ValueError):
                fail(f"{run.metrics_file}: not a retrikt metrics file (truncated or modified)")
            console.print(table)
        console.print(f"report: {run.report_file}")
