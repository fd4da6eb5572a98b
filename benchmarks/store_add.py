"""Knowledge added to a deployed bundle through the command line: a finished
run's retrikt_student exported, then ``retrikt store add FILE`` with and
without ``--fit-mixing`` on copies of the bundle; for each, accuracy on the
run's eval split, the lam and temperature it predicts with, and the wall
seconds ``store add`` took (process start, loading and encoding included).

    .venv/bin/python benchmarks/store_add.py --run runs/students/sst2-s0-extreme \\
        --file runs/retrieval-value/knowledge.jsonl

Prints a Markdown table and writes benchmarks/results/store-add.json.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.atomic import atomic_write_json
from retrikt_core.bundle import export_bundle, load_bundle
from retrikt_core.pipeline.rundir import RunDir

CLI = str(Path(sys.executable).with_name("retrikt"))


def accuracy(bundle: Path, run: RunDir) -> dict[str, Any]:
    evaluation = run.read_examples("prepare", "eval.jsonl")
    loaded = load_bundle(bundle, runtime="native")
    probs = np.asarray(loaded.predict_proba(evaluation))
    gold = np.array([e.label for e in evaluation])
    return {
        "accuracy": float((probs.argmax(1) == gold).mean()),
        "lam": float(loaded.student.lam),
        "knn_temperature": float(loaded.student.knn_temperature),
        "entries": sum(len(store) for store in loaded.stores),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run")
    parser.add_argument("--file", type=Path, required=True, help="labelled knowledge to add")
    parser.add_argument("--work", type=Path, default=Path("runs/store-add"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/store-add.json"))
    args = parser.parse_args()
    run = RunDir(args.run)
    exported = args.work / "exported"
    shutil.rmtree(args.work, ignore_errors=True)
    export_bundle(args.run, exported)
    rows = {"exported": {**accuracy(exported, run), "seconds": 0.0}}
    for name, flags in (("added", []), ("added --fit-mixing", ["--fit-mixing"])):
        bundle = args.work / name.replace(" --", "-")
        shutil.copytree(exported, bundle)
        start = time.perf_counter()
        subprocess.run([CLI, "store", "add", str(bundle), str(args.file), *flags], check=True)
        rows[name] = {**accuracy(bundle, run), "seconds": time.perf_counter() - start}
    atomic_write_json(args.out, {"run": str(args.run), "file": str(args.file), "rows": rows})
    print("| bundle | entries | λ | temperature | accuracy | store add (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['entries']:,} | {row['lam']:.2f} | {row['knn_temperature']:.2f} "
            f"| {100 * row['accuracy']:.1f} | {row['seconds']:.1f} |"
        )


if __name__ == "__main__":
    main()
