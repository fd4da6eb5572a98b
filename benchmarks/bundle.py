"""A deployed bundle, runtime by runtime: PyTorch (native), ONNX and ONNX int8.

Exports a finished run (default: runs/sst2-retrikt, the full SmolLM2 method
on SST-2) with ``--quantize int8`` and, for each runtime, in a fresh process
(so that torch's and onnxruntime's thread pools never share the 2 cores):
load time (imports included), ``bundle.predict`` over the run's eval split at
batch 1 and batch 32 (examples/s, p50/p95 latency per call), accuracy, and
agreement with the native runtime (same label, largest probability gap).
The teacher's row is the run's own evaluation (metrics.json), not remeasured.

    .venv/bin/python benchmarks/bundle.py --run runs/sst2-retrikt

Prints a Markdown table and writes benchmarks/results/bundle.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RUNTIMES = ("native", "onnx", "onnx-int8")
BATCHES = (1, 32)
WARMUP = 5


def percentiles(seconds: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return {"p50_ms": 1000 * statistics.median(seconds), "p95_ms": 1000 * cuts[18]}


def worker(bundle_dir: str, runtime: str, eval_file: str) -> dict[str, Any]:
    """Runs in its own process: load, then time predict at each batch size."""
    start = time.perf_counter()
    from retrikt_core.bundle import load_bundle

    bundle = load_bundle(bundle_dir, runtime)
    load_s = time.perf_counter() - start
    from retrikt_core.records import Example, jsonl_lines

    lines = jsonl_lines(Path(eval_file).read_text(encoding="utf-8"))
    examples = [Example.from_dict(json.loads(line)) for _, line in lines]
    names = bundle.label_names
    out: dict[str, Any] = {"runtime": runtime, "load_s": load_s, "batches": {}}
    for batch in BATCHES:
        chunks = [examples[i : i + batch] for i in range(0, len(examples), batch)]
        for chunk in chunks[:WARMUP]:
            bundle.predict(chunk)
        seconds, probs = [], []
        total = time.perf_counter()
        for chunk in chunks:
            tick = time.perf_counter()
            predictions = bundle.predict(chunk)
            seconds.append(time.perf_counter() - tick)
            probs += [[p.probabilities[n] for n in names] for p in predictions]
        total = time.perf_counter() - total
        # The student's own model alone (no retrieval, interpolation or
        # explanation): where the runtimes differ.
        model_seconds = []
        for chunk in chunks:
            tick = time.perf_counter()
            bundle.student.predict_proba(chunk)
            model_seconds.append(time.perf_counter() - tick)
        out["batches"][str(batch)] = {
            "examples_per_s": len(examples) / total,
            **percentiles(seconds),
            "model_examples_per_s": len(examples) / sum(model_seconds),
            "model_p50_ms": 1000 * statistics.median(model_seconds),
            "probs": probs,
        }
    out["modules"] = sorted(
        m for m in ("torch", "onnxruntime", "transformers", "peft", "gguf") if m in sys.modules
    )
    return out


def machine_load() -> dict[str, Any]:
    """Load average and other benchmark/retrikt processes (the machine is shared)."""
    ps = subprocess.run(["ps", "-eo", "pid,pcpu,args"], capture_output=True, text=True).stdout
    mine = {os.getpid(), os.getppid()}
    others = [
        line.strip()[:160]
        for line in ps.splitlines()[1:]
        if ("retrikt" in line or "benchmarks" in line or "python" in line)
        and int(line.split()[0]) not in mine
        and "ps -eo" not in line
    ]
    return {"loadavg": list(os.getloadavg()), "other_processes": others}


def sizes(bundle_dir: Path, manifest: Any) -> dict[str, int]:
    student = manifest.student["dir"]
    onnx_files = {f for f in manifest.runtimes.values() if f}
    native = sum(
        r.bytes
        for name, r in manifest.files.items()
        if name.startswith(student + "/") and name.split("/")[-1] not in onnx_files
    )
    shared = sum(  # tokeniser and settings, read by every runtime
        manifest.files[f"{student}/{f}"].bytes
        for f in ("vocab.json", "tokenizer.json", "student.json", "onnx.json")
        if f"{student}/{f}" in manifest.files
    )
    out = {"native": native}
    for runtime, file in manifest.runtimes.items():
        if file:
            out[runtime] = manifest.files[f"{student}/{file}"].bytes + shared
    out["stores"] = manifest.bytes_under("stores")
    out["bundle"] = sum(r.bytes for r in manifest.files.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/sst2-retrikt")
    parser.add_argument("--bundle", default=None, help="default: RUN-bundle")
    parser.add_argument("--out", default="benchmarks/results/bundle.json")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads for torch (OMP_NUM_THREADS) and onnxruntime; 0 = the libraries' defaults",
    )
    parser.add_argument("--worker", nargs=3, metavar=("BUNDLE", "RUNTIME", "EVAL"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return

    import numpy as np

    from retrikt_core.atomic import atomic_write_json
    from retrikt_core.bundle import ExportOptions, export_bundle
    from retrikt_core.records import jsonl_lines

    run = Path(args.run)
    bundle_dir = Path(args.bundle or f"{run}-bundle")
    load_before = machine_load()
    started = time.perf_counter()
    manifest = export_bundle(run, bundle_dir, ExportOptions(quantize="int8", overwrite=True))
    export_s = time.perf_counter() - started
    eval_file = run / "stages" / "prepare" / "eval.jsonl"
    lines = jsonl_lines(eval_file.read_text(encoding="utf-8"))
    gold = np.array([json.loads(line)["label"] for _, line in lines])
    threads = (
        {"OMP_NUM_THREADS": str(args.threads), "RETRIKT_ONNX_THREADS": str(args.threads)}
        if args.threads
        else {}
    )
    results: dict[str, Any] = {}
    for runtime in RUNTIMES:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", str(bundle_dir), runtime, str(eval_file)],
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "RETRIKT_PROGRESS": "0", **threads},
        )
        if out.returncode:
            raise SystemExit(out.stderr)
        results[runtime] = json.loads(out.stdout.splitlines()[-1])
    native = {b: np.array(results["native"]["batches"][str(b)]["probs"]) for b in BATCHES}
    size = sizes(bundle_dir, manifest)
    rows = []
    for runtime in RUNTIMES:
        row: dict[str, Any] = {
            "runtime": runtime,
            "student_bytes": size[runtime],
            "load_s": results[runtime]["load_s"],
            "imports": results[runtime]["modules"],
        }
        for batch in BATCHES:
            measured = results[runtime]["batches"][str(batch)]
            probs = np.array(measured.pop("probs"))
            row[f"batch{batch}"] = {
                **measured,
                "accuracy": float((probs.argmax(1) == gold).mean()),
                "same_label_as_native": float((probs.argmax(1) == native[batch].argmax(1)).mean()),
                "max_prob_diff_vs_native": float(np.abs(probs - native[batch]).max()),
            }
        rows.append(row)
    metrics = json.loads((run / "metrics.json").read_text())
    teacher = metrics["methods"].get("teacher", {})
    student = metrics["methods"]["retrikt_student"]
    data = {
        "command": "python benchmarks/bundle.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "threads": args.threads or "library defaults",
        "run": str(run),
        "bundle": str(bundle_dir),
        "eval_examples": len(gold),
        "export_s": export_s,
        "sizes": size,
        "store_entries": sum(s["entries"] for s in manifest.stores),
        "rows": rows,
        "run_metrics": {
            "retrikt_student": {
                k: student.get(k) for k in ("accuracy", "examples_per_s", "params")
            },
            "teacher (from the run's metrics.json)": {
                k: teacher.get(k) for k in ("accuracy", "examples_per_s", "params")
            },
        },
        "load_before": load_before,
        "load_after": machine_load(),
    }
    atomic_write_json(args.out, data, sort_keys=False)
    print(table(data))


def table(data: dict[str, Any]) -> str:
    """Two Markdown tables: size and speed, then accuracy and parity."""
    teacher = data["run_metrics"]["teacher (from the run's metrics.json)"]
    lines = [
        f"{data['run']}: {data['eval_examples']} eval examples; store "
        f"{data['store_entries']} entries, {data['sizes']['stores']:,} bytes; "
        f"bundle {data['sizes']['bundle']:,} bytes (all runtimes); "
        f"export {data['export_s']:.0f} s; threads: {data['threads']}",
        "",
        "| runtime | student bytes | load s | b=1 ex/s | b=1 p50 ms | b=1 p95 ms | "
        "b=32 ex/s | b=32 p50 ms | b=32 p95 ms | model only b=1 ex/s | model only b=32 ex/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["rows"]:
        b1, b32 = row["batch1"], row["batch32"]
        lines.append(
            f"| {row['runtime']} | {row['student_bytes']:,} | {row['load_s']:.2f} | "
            f"{b1['examples_per_s']:.0f} | {b1['p50_ms']:.2f} | {b1['p95_ms']:.2f} | "
            f"{b32['examples_per_s']:.0f} | {b32['p50_ms']:.1f} | {b32['p95_ms']:.1f} | "
            f"{b1['model_examples_per_s']:.0f} | {b32['model_examples_per_s']:.0f} |"
        )
    if teacher.get("accuracy") is not None:
        lines.append(
            f"| teacher (run's metrics.json) | {teacher['params']:,} params | - | - | - | - | "
            f"{teacher['examples_per_s']:.1f} | - | - | - | - |"
        )
    lines += [
        "",
        "| runtime | accuracy b=32 | accuracy b=1 | same label as native b=32 | b=1 | "
        "max Δp b=32 | b=1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in data["rows"]:
        b1, b32 = row["batch1"], row["batch32"]
        lines.append(
            f"| {row['runtime']} | {b32['accuracy']:.2%} | {b1['accuracy']:.2%} | "
            f"{b32['same_label_as_native']:.2%} | {b1['same_label_as_native']:.2%} | "
            f"{b32['max_prob_diff_vs_native']:.2g} | {b1['max_prob_diff_vs_native']:.2g} |"
        )
    if teacher.get("accuracy") is not None:
        lines.append(
            f"| teacher (run's metrics.json) | {teacher['accuracy']:.2%} | - | - | - | - | - |"
        )
    lines += [
        "",
        f"load average before: {data['load_before']['loadavg']}, "
        f"after: {data['load_after']['loadavg']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
