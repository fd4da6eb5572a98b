"""``retrikt data check``: what a config's task reads, before any model loads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retrikt_core.cli.app import app, console, fail, load_config, user_errors

data_app = typer.Typer(help="Check a task's data files.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("check")
def data_check(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="run config (TOML)")],
    set_: Annotated[list[str], typer.Option("--set", help="override: section.key=value")] = [],  # noqa: B006
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with task data (sets RETRIKT_DATA_DIR)")
    ] = None,
    rows: Annotated[int, typer.Option(help="first rows shown per split", min=0)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Rows per split and label, the first rows as parsed, and how each file was
    read (header row or not, and why; lines skipped), so a wrong mapping shows
    before any model loads. Exits 2 when a split cannot train or evaluate."""
    from retrikt_core.inspection.data import check_task_data

    if data_dir is not None:
        os.environ["RETRIKT_DATA_DIR"] = str(data_dir)
    config, plugins = load_config(config_path, set_, None)
    name, options = config.components["task"]
    with user_errors():
        task = plugins.registry.get("task", name)(options)
        reports = check_task_data(task, rows)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
    else:
        for report in reports:
            console.print(_split_table(task.name, report))
    problems = [f"{r.split}: {p}" for r in reports for p in r.problems]
    if problems:
        fail("; ".join(problems))


def _split_table(task: str, report) -> Table:
    table = Table(title=escape(f"task {task}, split {report.split}: {report.rows} rows"))
    table.add_column("")
    table.add_column("value", overflow="fold")
    read = report.read or {}
    if read:
        table.add_row("read as", escape(f"{read['format']}, {read['rows']} rows"))
        if "header" in read:
            why = f" ({read['header_reason']})" if read.get("header_reason") else ""
            table.add_row("header row", escape(f"{'yes' if read['header'] else 'no'}{why}"))
        table.add_row("columns", escape(", ".join(map(str, read.get("columns", [])))))
        skipped = read.get("skipped") or {}
        if skipped:
            table.add_row("skipped lines", ", ".join(f"{k} {v}" for k, v in skipped.items()))
    table.add_row("per label", escape(", ".join(f"{k} {v}" for k, v in report.by_label.items())))
    if report.unlabelled:
        table.add_row("unlabelled", str(report.unlabelled))
    for i, row in enumerate(report.first):
        pair = f" ||| {row['text_pair']}" if row["text_pair"] else ""
        table.add_row(f"row {i}", escape(f"[{row['label']}] {row['text']}{pair}"))
    for problem in report.problems:
        table.add_row("[red]problem[/red]", escape(problem))
    return table
