"""CPU time of teacher labelling in arrival order against shortest first (what
`extract` does), on real RTE train pairs with a tuned SmolLM2 teacher:

    .venv/bin/python benchmarks/labelling_order.py runs/method/rte-s0-gen2k [--pairs 128]

The two orders alternate (two rounds each) in one process with one torch
thread, so both see the same machine. Prints a table and writes
benchmarks/results/labelling-order.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json
from retrikt_core.pipeline import teacher_labels
from retrikt_core.records import Knowledge, jsonl_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run whose teacher stage finished (RTE)")
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32, help="extract.teacher_batch_size")
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/labelling-order.json")
    args = parser.parse_args()

    import numpy as np
    import torch
    from retrikt_transformers.teacher import LLMTeacher

    torch.set_num_threads(1)
    teacher = LLMTeacher.from_pretrained(args.run_dir / "stages" / "teacher" / "teacher")
    lines = jsonl_lines((Path(args.data_dir) / "rte" / "train.jsonl").read_text(encoding="utf-8"))
    rows = [json.loads(line) for _, line in lines]
    random.Random(1).shuffle(rows)
    entries = [Knowledge(text=r["premise"], text_pair=r["hypothesis"]) for r in rows[: args.pairs]]
    teacher.predict_proba([e.example for e in entries[: args.batch]])  # load and warm up

    def arrival():
        out = []
        for start in range(0, len(entries), args.batch):
            out += teacher.predict_proba([e.example for e in entries[start : start + args.batch]])
        return out

    def shortest_first():
        return teacher_labels(teacher, entries, "benchmark", args.batch)

    seconds: dict[str, list[float]] = {"arrival": [], "shortest_first": []}
    probs = {}
    for name, fn in [("arrival", arrival), ("shortest_first", shortest_first)] * 2:
        started = time.process_time()
        probs[name] = np.array(fn())
        seconds[name].append(round(time.process_time() - started, 2))
    mean = {k: sum(v) / len(v) for k, v in seconds.items()}
    diff = float(np.abs(probs["arrival"] - probs["shortest_first"]).max())
    print(f"{args.pairs} RTE train pairs, teacher batches of {teacher.options.batch_size}\n")
    print("| order | CPU s (two rounds) | CPU s per pair |")
    print("|---|---:|---:|")
    for name, values in seconds.items():
        print(f"| {name} | {' / '.join(map(str, values))} | {mean[name] / args.pairs:.3f} |")
    print(
        f"\nspeed-up {mean['arrival'] / mean['shortest_first']:.2f}x; "
        f"largest change of a probability {diff:.1e}"
    )
    atomic_write_json(
        Path(args.out),
        {
            "pairs": args.pairs,
            "cpu_seconds": seconds,
            "max_abs_diff": diff,
            "speedup": mean["arrival"] / mean["shortest_first"],
        },
    )


if __name__ == "__main__":
    main()
