"""``retrikt plugins``, ``config schema`` and ``store inspect``: what is
installed, what can be configured, and what a store holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retrikt_core.cli.app import app, console, user_errors
from retrikt_core.plugins import get_plugins


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


config_app = typer.Typer(help="Inspect configuration options.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("schema")
def config_schema_command(
    markdown: Annotated[bool, typer.Option("--markdown", help="the docs page, not JSON")] = False,
) -> None:
    """Every config section and option of the installed plugins (JSON or Markdown)."""
    from retrikt_core.config.schema import config_schema, schema_markdown

    schema = config_schema(get_plugins().registry)
    typer.echo(
        schema_markdown(schema) if markdown else json.dumps(schema, indent=2, default=str),
        nl=not markdown,
    )


store_app = typer.Typer(
    help="Inspect a run's knowledge store(s); add knowledge to a bundle's.", no_args_is_help=True
)
app.add_typer(store_app, name="store")


@store_app.command("inspect")
def store_inspect_command(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="a run past `index`")],
    query: Annotated[
        list[str], typer.Option(help="show the entries nearest this text (repeatable)")
    ] = [],  # noqa: B006
    samples: Annotated[int, typer.Option(min=0, help="random entries shown per store")] = 5,
    k: Annotated[int, typer.Option(min=1, help="neighbours shown per query")] = 5,
    seed: Annotated[int, typer.Option(help="seed for the random sample")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Size, label balance, sources and sample entries of a run's store(s), and
    the nearest neighbours of query texts."""
    from retrikt_core.inspection import PAIR_SEPARATOR, RunStores
    from retrikt_core.records import Example

    with user_errors():
        stores = RunStores(run_dir)
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


@store_app.command("add")
def store_add_command(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="a bundle with a store")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="labelled knowledge: a finished run (its stages/extract/knowledge.jsonl) "
            "or a JSONL file of such rows; with --teacher, rows may be text alone",
        ),
    ],
    teacher: Annotated[
        Path | None,
        typer.Option(
            "--teacher",
            metavar="RUN_DIR",
            help="a finished run whose teacher labels the rows that have no teacher_probs",
        ),
    ] = None,
    fit_mixing: Annotated[
        bool,
        typer.Option(
            "--fit-mixing",
            help="choose lam and the neighbour temperature again on the added entries, which "
            "the student never trained on (at least 50); predictions then change for every "
            "input, not only through the new entries",
        ),
    ] = False,
) -> None:
    """Add knowledge to a bundle's store(s) without retraining its student:
    new entries are encoded as the store's others were (a student that
    retrieves in its own space encodes them too), the bundle gets a new
    store version and checksums, and predictions mark the new entries."""
    from retrikt_core.bundle.additions import add_to_bundle, label_with_teacher, read_labelled
    from retrikt_core.bundle.load import read_manifest

    with user_errors():
        manifest = read_manifest(bundle)
        task = manifest.task
        names = task["label_names"]
        pairs = bool(task.get("is_pair"))
        entries = read_labelled(file, len(names), pairs, unlabelled=teacher is not None)
        if teacher is not None:
            entries = label_with_teacher(entries, teacher, names)
        done = add_to_bundle(bundle, entries, fit_mixing=fit_mixing)
    skipped = (
        f", {done.skipped} skipped (already in the store, or repeated)" if done.skipped else ""
    )
    console.print(
        f"{bundle}: {done.added} entries added{skipped}; store version {done.store_version}",
        highlight=False,
    )
    if done.mixing is not None:
        before, after = done.mixing
        console.print(
            f"lam {before.lam:.2f} -> {after.lam:.2f}, neighbour temperature "
            f"{before.knn_temperature:.2f} -> {after.knn_temperature:.2f} "
            f"(chosen on the {done.added} added entries)",
            highlight=False,
        )
