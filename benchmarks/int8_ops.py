"""Which operators to quantise in a tiny-transformer's int8 ONNX export? For
trained students of finished runs, each choice of onnxruntime dynamic
quantisation against the fp32 export on the eval split: how often the label
agrees, the largest probability change, accuracy and file size.

    .venv/bin/python benchmarks/int8_ops.py runs/method/sst2-s0:kd_student ...

Prints a Markdown table and writes benchmarks/results/int8-ops.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.atomic import atomic_write_json
from retrikt_core.records import Example, jsonl_lines

CHOICES: dict[str, dict[str, Any]] = {
    "all (onnxruntime default)": {},
    "all, per channel": {"per_channel": True},
    "MatMul only": {"op_types_to_quantize": ["MatMul"]},
    "Gather only (embeddings)": {"op_types_to_quantize": ["Gather"]},
}


def measure(run_dir: Path, method: str) -> list[dict[str, Any]]:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from retrikt_students.tiny_transformer import TransformerStudent

    lines = jsonl_lines((run_dir / "stages/prepare/eval.jsonl").read_text(encoding="utf-8"))
    examples = [Example.from_dict(json.loads(line)) for _, line in lines]
    gold = np.array([e.label for e in examples])
    student = TransformerStudent.from_pretrained(run_dir / "stages/train" / method)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        student.save_pretrained(out)
        fp32_file = student.export_onnx(out)["onnx"]
        fp32 = TransformerStudent.from_onnx(out, fp32_file).own_proba(examples)
        for name, kwargs in CHOICES.items():
            quantised = out / "int8.onnx"
            quantize_dynamic(out / fp32_file, quantised, weight_type=QuantType.QInt8, **kwargs)
            probs = TransformerStudent.from_onnx(out, quantised.name).own_proba(examples)
            rows.append(
                {
                    "run": run_dir.name,
                    "student": method,
                    "ops": name,
                    "same_label": float((probs.argmax(1) == fp32.argmax(1)).mean()),
                    "max_prob_diff": float(np.abs(probs - fp32).max()),
                    "accuracy": float((probs.argmax(1) == gold).mean()),
                    "fp32_accuracy": float((fp32.argmax(1) == gold).mean()),
                    "bytes": quantised.stat().st_size,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="RUN_DIR:METHOD, e.g. runs/x:kd_student")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8-ops.json"))
    args = parser.parse_args()
    rows = []
    for spec in args.runs:
        run, _, method = spec.partition(":")
        rows += measure(Path(run), method or "retrikt_student")
    print("| run | student | quantised ops | same label | max Δp | accuracy (fp32) | MB |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['run']} | {r['student']} | {r['ops']} | {r['same_label']:.2%} "
            f"| {r['max_prob_diff']:.3f} | {r['accuracy']:.1%} ({r['fp32_accuracy']:.1%}) "
            f"| {r['bytes'] / 1e6:.2f} |"
        )
    atomic_write_json(args.out, {"rows": rows})


if __name__ == "__main__":
    main()
