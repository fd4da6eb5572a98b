"""The FastAPI application: typed requests, micro-batched predictions, health,
metadata and metrics."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from retrikt_core.bundle import load_bundle
from retrikt_core.bundle.load import digest_line
from retrikt_core.records import Example
from retrikt_core.serve.batching import MicroBatcher
from retrikt_core.serve.metrics import Metrics

ACCESS = logging.getLogger("retrikt.serve.access")


@dataclass
class ServeOptions:
    """How the service runs one bundle."""

    bundle: str
    runtime: str = "auto"
    max_batch: int = 64  # inputs per call to the bundle
    window_ms: float = 5.0  # how long the first request of a batch waits for others
    max_texts: int = 256  # inputs per request
    max_chars: int = 10_000  # characters per text
    max_body_bytes: int = 4 << 20
    max_neighbors: int = 32


class PredictRequest(BaseModel):
    """One of ``text`` (with ``text_pair`` for pair tasks), ``texts`` or
    ``pairs``; ``neighbors`` asks for that many store entries behind each
    prediction."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    text_pair: str | None = None
    texts: list[str] | None = None
    pairs: list[tuple[str, str]] | None = None
    neighbors: int = Field(0, ge=0)


class Neighbor(BaseModel):
    id: str
    text: str
    text_pair: str | None = None
    teacher_label: str | None = None
    source: str | None = None
    score: float


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]
    neighbors: list[Neighbor] = []


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class RequestProblem(Exception):
    """A request the schema admits but the service cannot take; names the field."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def problem(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


def create_app(options: ServeOptions) -> FastAPI:
    """The service for ``options.bundle``, loaded and verified now: a damaged
    bundle raises :class:`~retrikt_core.errors.BundleError` naming the file."""
    bundle = load_bundle(options.bundle, runtime=options.runtime)
    is_pair = bool(bundle.task.get("is_pair"))
    metrics = Metrics()

    def predict(items: list[tuple[Example, int]]) -> list[Any]:
        top = max(n for _, n in items)
        found = bundle.predict([e for e, _ in items], top=top)
        return [
            p.to_dict() | {"neighbors": p.neighbors[:n]}
            for p, (_, n) in zip(found, items, strict=True)
        ]

    batcher = MicroBatcher(predict, options.max_batch, options.window_ms / 1000, metrics.batch)
    manifest = bundle.manifest
    # What /metadata answers does not change while the service runs.
    described = {
        "task": bundle.task.get("name"),
        "labels": bundle.label_names,
        "is_pair": is_pair,
        "method": manifest.method,
        "student": manifest.student.get("name", manifest.student),
        "runtime": bundle.runtime,
        "store_size": len(bundle.entries),
        "bundle": {
            "format_version": manifest.format_version,
            "created_at": manifest.created_at,
            "retrikt_version": manifest.retrikt_version,
            "digest": digest_line(Path(bundle.path) / "bundle.json").split()[0],
        },
        "model_card": card_summary(Path(bundle.path)),
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()
        # After uvicorn has waited for open requests: every one that reached
        # the app was answered, or this line says otherwise.
        ACCESS.info(json.dumps({"event": "stopped", **metrics.totals()}))

    app = FastAPI(
        title="retrikt",
        summary=f"{bundle.task.get('name', 'task')} classifier from a retrikt bundle",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def access_and_limits(request: Request, call_next):
        started = time.perf_counter()
        metrics.received()
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > options.max_body_bytes:
            response = problem(413, "body", f"over {options.max_body_bytes} bytes")
        else:
            response = await call_next(request)
        seconds = time.perf_counter() - started
        metrics.request(request.url.path, response.status_code, seconds)
        ACCESS.info(
            json.dumps(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round(seconds * 1000, 2),
                    "client": request.client.host if request.client else None,
                }
            )
        )
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = exc.errors()[0]
        where = [str(part) for part in error.get("loc", ()) if part != "body"]
        if error.get("type") == "json_invalid":  # not JSON, or not UTF-8: no field to name
            where = []
        return problem(422, ".".join(where) or "body", error.get("msg", "invalid request"))

    @app.exception_handler(RequestProblem)
    async def refused(request: Request, exc: RequestProblem) -> JSONResponse:
        return problem(exc.status, exc.field, str(exc))

    def examples(body: PredictRequest) -> list[Example]:
        given = [name for name in ("text", "texts", "pairs") if getattr(body, name) is not None]
        if len(given) != 1:
            raise RequestProblem("text", "give exactly one of text, texts or pairs")
        if body.text_pair is not None and body.text is None:
            raise RequestProblem("text_pair", "goes with text")
        if body.text is not None:
            rows = [(body.text, body.text_pair)]
            field = "text"
        elif body.texts is not None:
            rows = [(t, None) for t in body.texts]
            field = "texts"
        else:
            rows = [(a, b) for a, b in body.pairs or []]
            field = "pairs"
        if not rows:
            raise RequestProblem(field, "is empty")
        if len(rows) > options.max_texts:
            raise RequestProblem(field, f"{len(rows)} inputs; at most {options.max_texts}")
        if body.neighbors > options.max_neighbors:
            raise RequestProblem("neighbors", f"at most {options.max_neighbors}")
        out = []
        for i, (first, second) in enumerate(rows):
            where = field if body.text is not None else f"{field}.{i}"
            if not first.strip():
                raise RequestProblem(where, "is blank")
            if len(first) + len(second or "") > options.max_chars:
                raise RequestProblem(where, f"over {options.max_chars} characters")
            if is_pair and not second:
                pair_field = "text_pair" if body.text is not None else where
                raise RequestProblem(pair_field, "this task takes sentence pairs")
            if not is_pair and second is not None:
                pair_field = "text_pair" if body.text is not None else where
                raise RequestProblem(pair_field, "this task takes single sentences")
            out.append(Example(text=first, text_pair=second, id=f"input-{i}"))
        return out

    @app.post("/predict", response_model=PredictResponse)
    async def predict_endpoint(body: PredictRequest) -> dict[str, Any]:
        items = [(e, body.neighbors) for e in examples(body)]
        return {"predictions": await batcher.submit(items)}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ready", "bundle": str(bundle.path)}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        return described

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> str:
        return metrics.render()

    return app


def card_summary(folder: Path) -> str:
    """The model card's first paragraph after its title, if the bundle has one."""
    for name in ("MODEL_CARD.md", "README.md"):
        path = folder / name
        if path.is_file():
            paragraphs = [p.strip() for p in path.read_text().split("\n\n") if p.strip()]
            body = [p for p in paragraphs if not p.startswith("#")]
            return body[0] if body else ""
    return ""


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` with several workers: options from
    ``$RETRIKT_SERVE_OPTIONS`` (JSON), set by ``retrikt serve``."""
    import os

    return create_app(ServeOptions(**json.loads(os.environ["RETRIKT_SERVE_OPTIONS"])))
