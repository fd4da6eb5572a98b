"""`retrikt serve` under load on loopback: requests/s and p50/p99 latency at
1, 8 and 64 concurrent clients, single texts and batches of 32, for each
runtime; and the server's throughput as a share of the bundle's own
in-process ``predict`` throughput at the same batch sizes.

    .venv/bin/python benchmarks/serve.py BUNDLE [--runtimes native onnx-int8] [--seconds 8]

The load generator is an async httpx client in this process; the server is
`retrikt serve` in another. Both share this machine's cores, so the client's
own CPU time is part of what the server's numbers pay. Texts are SST-2 dev
sentences. Prints a table and writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json


def start(bundle: str, runtime: str, threads: int) -> tuple[subprocess.Popen, str]:
    from retrikt_core.testing.serving import start_server

    extra = ("--runtime", runtime, "--threads", str(threads))
    return start_server(bundle, *extra, output=subprocess.DEVNULL)


async def load(url: str, clients: int, texts: list[str], batch: int, seconds: float) -> dict:
    """``clients`` clients each sending requests back to back for ``seconds``."""
    import httpx

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < stop_at:
                chunk = [texts[(i + j) % len(texts)] for j in range(batch)]
                body = {"text": chunk[0]} if batch == 1 else {"texts": chunk}
                started = time.perf_counter()
                try:
                    answer = await client.post(f"{url}/predict", json=body)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok
                i += batch * clients

        began = time.perf_counter()
        await asyncio.gather(*(worker(c * batch) for c in range(clients)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / elapsed,
        "texts_per_s": len(latencies) * batch / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def in_process(bundle: str, runtime: str, texts: list[str], batch: int, seconds: float) -> float:
    """Texts/s of ``load_bundle(...).predict`` called back to back on batches."""
    from retrikt_core.bundle import load_bundle

    loaded = load_bundle(bundle, runtime=runtime)
    done, i = 0, 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        loaded.predict([texts[(i + j) % len(texts)] for j in range(batch)])
        done += batch
        i += batch
    return done / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--runtimes", nargs="+", default=["native", "onnx-int8"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--threads", type=int, default=1, help="model threads in the server")
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/serve.json")
    args = parser.parse_args()

    import torch

    rows = (Path(args.data_dir) / "sst2" / "dev.tsv").read_text().splitlines()[1:]
    texts = [row.split("\t")[0].strip() for row in rows]
    torch.set_num_threads(args.threads)
    result: dict = {"settings": vars(args), "runs": []}
    for runtime in args.runtimes:
        direct = {b: in_process(args.bundle, runtime, texts, b, args.seconds) for b in args.batches}
        proc, url = start(args.bundle, runtime, args.threads)
        try:
            for batch in args.batches:
                for clients in args.clients:
                    row = asyncio.run(load(url, clients, texts, batch, args.seconds))
                    row.update(
                        runtime=runtime,
                        batch=batch,
                        clients=clients,
                        in_process_texts_per_s=direct[batch],
                        share_of_in_process=row["texts_per_s"] / direct[batch],
                    )
                    result["runs"].append(row)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    atomic_write_json(args.out, result)
    print(
        f"{'runtime':<10} {'batch':>5} {'clients':>7} {'req/s':>8} {'texts/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'vs predict':>10}"
    )
    for r in result["runs"]:
        print(
            f"{r['runtime']:<10} {r['batch']:>5} {r['clients']:>7} {r['requests_per_s']:>8.1f} "
            f"{r['texts_per_s']:>8.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['errors']:>6} "
            f"{r['share_of_in_process']:>10.2f}"
        )


if __name__ == "__main__":
    main()
