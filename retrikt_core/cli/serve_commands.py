"""``retrikt serve``: a bundle as an HTTP service."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from retrikt_core.cli.app import app, fail, user_errors

RUNTIMES = ("auto", "native", "onnx", "onnx-int8")


@app.command()
def serve(
    bundle: Annotated[
        Path, typer.Argument(metavar="BUNDLE", help="an exported bundle (retrikt export)")
    ],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes, each with the bundle")] = 1,
    runtime: Annotated[str, typer.Option(help="native, onnx or onnx-int8 (auto = default)")] = (
        "auto"
    ),
    threads: Annotated[
        int, typer.Option(help="model CPU threads per process (0 = the library default)")
    ] = 0,
    max_batch: Annotated[int, typer.Option(help="inputs per call to the bundle")] = 64,
    window_ms: Annotated[float, typer.Option(help="how long a batch waits for more")] = 5.0,
    max_texts: Annotated[int, typer.Option(help="inputs per request")] = 256,
) -> None:
    """Serve a bundle over HTTP: POST /predict, GET /health, /metadata, /metrics,
    /docs (OpenAPI). Concurrent requests are micro-batched."""
    try:
        import uvicorn

        from retrikt_core.serve import ServeOptions, create_app
    except ImportError as exc:
        fail(
            f"retrikt serve needs the serve extra ({exc.name} is missing): "
            "pip install 'retrikt-core[serve]'"
        )
    for name, value, low in (
        ("--workers", workers, 1),
        ("--max-batch", max_batch, 1),
        ("--max-texts", max_texts, 1),
        ("--threads", threads, 0),
    ):
        if value < low:
            fail(f"{name}: at least {low}, got {value}")
    if not 0 < port < 65536:
        fail(f"--port: 1 to 65535, got {port}")
    if runtime not in RUNTIMES:
        fail(f"--runtime: one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if window_ms < 0:
        fail(f"--window-ms: at least 0, got {window_ms}")
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        with_torch_threads(threads)
    options = ServeOptions(str(bundle), runtime, max_batch, window_ms, max_texts)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    with user_errors():
        # Loaded and verified before the port opens: a damaged bundle never serves.
        application = create_app(options)
    settings = {"host": host, "port": port, "access_log": False, "timeout_graceful_shutdown": 30}
    if workers == 1:
        uvicorn.run(application, **settings)
        return
    os.environ["RETRIKT_SERVE_OPTIONS"] = json.dumps(dataclasses.asdict(options))
    uvicorn.run(
        "retrikt_core.serve.app:app_from_environment", factory=True, workers=workers, **settings
    )


def with_torch_threads(threads: int) -> None:
    try:
        import torch
    except ImportError:  # a bundle whose student needs no torch
        return
    torch.set_num_threads(threads)
