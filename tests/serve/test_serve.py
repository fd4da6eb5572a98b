"""`retrikt serve` as users run it: a real server on a free loopback port,
answered over HTTP."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from retrikt_core.bundle import ExportOptions, export_bundle, load_bundle
from retrikt_core.testing.runs import fast_config, make_pipeline, task_section, write_sentiment_csv
from retrikt_core.testing.serving import free_port, start_server

TEXTS = ["a great and moving film", "dull , boring and far too long", "fun and sharp"]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    data = write_sentiment_csv(folder / "data", n_train=40, n_eval=10)
    config = folder / "run.toml"
    config.write_text(fast_config(task_section(data), n_total=30))
    make_pipeline(config, folder / "run").run()
    export_bundle(folder / "run", folder / "bundle", ExportOptions())
    return folder / "bundle"


@pytest.fixture(scope="module")
def server(bundle_dir):
    proc, url = start_server(bundle_dir, "--window-ms", "2")
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_predictions_equal_the_bundles_own(server, bundle_dir):
    answer = httpx.post(f"{server}/predict", json={"texts": TEXTS, "neighbors": 2})
    assert answer.status_code == 200
    expected = [p.to_dict() for p in load_bundle(bundle_dir).predict(TEXTS, top=2)]
    got = answer.json()["predictions"]
    assert [p["label"] for p in got] == [p["label"] for p in expected]
    assert [p["probabilities"] for p in got] == [p["probabilities"] for p in expected]
    assert [[n["id"] for n in p["neighbors"]] for p in got] == [
        [n["id"] for n in p["neighbors"]] for p in expected
    ]
    one = httpx.post(f"{server}/predict", json={"text": TEXTS[0]}).json()["predictions"]
    alone = load_bundle(bundle_dir).predict(TEXTS[:1])[0]
    assert one[0]["probabilities"] == alone.probabilities
    assert one[0]["neighbors"] == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "text"),
        ({"text": "  "}, 422, "text"),
        ({"texts": []}, 422, "texts"),
        ({"texts": ["fine", 3]}, 422, "texts.1"),
        ({"text": "a", "texts": ["b"]}, 422, "text"),
        ({"text": "a film", "text_pair": "a pair"}, 422, "text_pair"),
        ({"pairs": [["a", "b"]]}, 422, "pairs.0"),
        ({"text": "a film", "colour": "red"}, 422, "colour"),
        ({"texts": ["x"] * 300}, 422, "texts"),
        ({"text": "x" * 20_000}, 422, "text"),
        ({"text": "a film", "neighbors": -1}, 422, "neighbors"),
        ({"text": "a film", "neighbors": 99}, 422, "neighbors"),
        ({"text": ["a list"]}, 422, "text"),
        (b"\xff\xfe{\x00", 422, "body"),
        (b"{not json", 422, "body"),
        (b"[1, 2]", 422, "body"),
        (b'{"text": "' + b"x" * (5 << 20) + b'"}', 413, "body"),
    ],
)
def test_malformed_requests_get_a_4xx_naming_the_field(server, body, status, field):
    if isinstance(body, bytes):
        headers = {"content-type": "application/json"}
        answer = httpx.post(f"{server}/predict", content=body, headers=headers)
    else:
        answer = httpx.post(f"{server}/predict", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and error["message"]
    assert httpx.get(f"{server}/health").status_code == 200, "the server keeps answering"


def test_health_metadata_metrics_and_openapi(server, bundle_dir):
    assert httpx.get(f"{server}/health").json()["status"] == "ready"
    meta = httpx.get(f"{server}/metadata").json()
    assert meta["labels"] == ["negative", "positive"]
    assert meta["is_pair"] is False
    assert meta["store_size"] == len(load_bundle(bundle_dir).entries) > 0
    recorded = (bundle_dir / "bundle.sha256").read_text().split()[0]
    assert meta["bundle"]["digest"] == recorded
    httpx.post(f"{server}/predict", json={"texts": TEXTS})
    metrics = httpx.get(f"{server}/metrics").text
    assert 'retrikt_requests_total{path="/predict",status="200"}' in metrics
    assert "retrikt_batch_size_bucket" in metrics and "retrikt_predict_seconds_count" in metrics
    assert "/predict" in httpx.get(f"{server}/openapi.json").json()["paths"]
    assert httpx.get(f"{server}/predict").status_code == 405


def test_a_corrupted_bundle_refuses_to_start_server(bundle_dir, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(bundle_dir, broken)
    victim = next(p for p in sorted(broken.rglob("*")) if p.is_file() and p.suffix == ".jsonl")
    victim.write_bytes(victim.read_bytes()[:-10])
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "retrikt_core.cli", "serve", str(broken), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "error:" in done.stderr and victim.name in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_command_line_values_are_errors(bundle_dir):
    for flag, value in (("--workers", "0"), ("--runtime", "gpu"), ("--port", "70000")):
        done = subprocess.run(
            [sys.executable, "-m", "retrikt_core.cli", "serve", str(bundle_dir), flag, value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and flag in done.stderr


def test_shutdown_under_load_loses_no_accepted_request(bundle_dir):
    proc, url = start_server(bundle_dir, "--window-ms", "20")

    async def load() -> list[object]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(i: int):
                await asyncio.sleep(i * 0.002)
                try:
                    answer = await client.post(f"{url}/predict", json={"texts": TEXTS})
                    return answer.status_code
                except httpx.HTTPError as exc:
                    # Refused, or reset before the app took it: the server had
                    # stopped listening (the log below counts what it took).
                    return type(exc).__name__

            async def stop():
                await asyncio.sleep(0.1)
                proc.send_signal(signal.SIGTERM)

            results = await asyncio.gather(*(one(i) for i in range(200)), stop())
            return list(results[:-1])

    outcomes = asyncio.run(load())
    _, log = proc.communicate(timeout=60)
    # uvicorn finishes in-flight requests, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    answered = [r for r in lines if r.get("path") == "/predict"]
    stopped = [r for r in lines if r.get("event") == "stopped"]
    assert stopped and stopped[0]["received"] == stopped[0]["answered"], "none left unanswered"
    assert outcomes.count(200) > 0, "some requests were served before the signal"
    # Every request the app took reached its client, with a 200.
    assert all(r["status"] == 200 for r in answered)
    assert outcomes.count(200) == len(answered), json.dumps(outcomes)
    assert all(o in (200, "ConnectError", "ReadError") for o in outcomes), json.dumps(outcomes)


def test_several_workers_serve_the_same_predictions(bundle_dir):
    proc, url = start_server(bundle_dir, "--workers", "2")
    try:
        got = httpx.post(f"{url}/predict", json={"texts": TEXTS}).json()["predictions"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    expected = load_bundle(bundle_dir).predict(TEXTS)
    assert [p["probabilities"] for p in got] == [p.probabilities for p in expected]
