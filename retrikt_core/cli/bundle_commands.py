"""``retrikt predict`` and ``export``: using a run's student, and bundling it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retrikt_core.cli.app import app, console, fail, user_errors

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
    top: Annotated[int, typer.Option(min=0, help="neighbours shown per prediction")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output")] = False,
) -> None:
    """Label texts with a run's student or a bundle, showing the neighbours behind each
    decision."""
    from retrikt_core.bundle import is_bundle, load_bundle
    from retrikt_core.inspection import RunPredictor, read_inputs

    with user_errors():
        if is_bundle(run_dir):
            predictor = load_bundle(run_dir, runtime)
            if method not in (None, predictor.manifest.method):
                fail(f"--method {method}: {run_dir} is a bundle of {predictor.manifest.method}")
        else:
            if runtime not in ("auto", "native"):
                fail(f"--runtime {runtime}: only bundles have other runtimes; see retrikt export")
            predictor = RunPredictor(run_dir, method or "retrikt_student")
        examples = read_inputs(texts or [], file, predictor.task["is_pair"])
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
            new = f" (added in store version {n['added_in']})" if "added_in" in n else ""
            line = f"    {n['score']:.3f} [{n['teacher_label']}] {n['text']}{pair}{new}"
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

    from retrikt_core.bundle import ExportOptions, export_bundle

    command = shlex.join(["retrikt", *sys.argv[1:]]) if sys.argv[1:2] == ["export"] else None
    options = ExportOptions(
        method=method, onnx=onnx, quantize=quantize, overwrite=overwrite, command=command
    )
    with user_errors():
        manifest = export_bundle(
            run_dir, out_dir, options, echo=lambda m: console.print(m, highlight=False)
        )
    console.print(bundle_table(out_dir, manifest))
    console.print(f"model card: {out_dir / 'README.md'}")
    if push_to_hub:
        from retrikt_core.bundle import push_to_hub as push

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
