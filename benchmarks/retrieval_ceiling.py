"""How much could retrieval add at test time? For finished runs, the eval-split
accuracy of each trained student mixed with its neighbours' teacher labels,
p = lam * p_knn + (1 - lam) * p_student, over a grid of lam, with:

- ``store``: the run's own store and retriever, as ``retrikt_student`` uses them;
- ``student``: a kNN over the store entries in the student's own pooled space.

The grid reads eval labels, so it is a ceiling, not a way to choose lam: if no
lam beats lam = 0 here, no rule for choosing lam can. It reads runs; it does
not run them:

    .venv/bin/python benchmarks/retrieval_ceiling.py runs/method/sst2-s0-corpus2k ...

Prints a Markdown table and writes benchmarks/results/retrieval-ceiling.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.atomic import atomic_write_json
from retrikt_core.inspection import RunPredictor
from retrikt_core.interpolation import interpolate
from retrikt_core.records import Example, Knowledge, Neighbors, jsonl_lines

LAMS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
STUDENTS = ("kd_student", "retrikt_student")


def read_jsonl(path: Path, record: type) -> list[Any]:
    lines = jsonl_lines(path.read_text(encoding="utf-8"))
    return [record.from_dict(json.loads(line)) for _, line in lines]


def student_space(student: Any, queries: list[Example], entries: list[Knowledge], k: int):
    """Neighbours by cosine in the student's pooled space (``Student.encode``)."""
    keys = np.asarray(student.encode([e.example for e in entries]))
    scores = np.asarray(student.encode(queries)) @ keys.T
    top = np.argsort(-scores, axis=1)[:, :k]
    return Neighbors(
        ids=[[entries[j].id for j in row] for row in top],
        scores=np.take_along_axis(scores, top, axis=1).tolist(),
        label_probs=[[entries[j].teacher_probs for j in row] for row in top],
    )


def measure(run_dir: Path) -> dict[str, Any]:
    predictor = RunPredictor(run_dir)  # retrikt_student, the run's store(s) and retriever
    stages = run_dir / "stages"
    evaluation = read_jsonl(stages / "prepare/eval.jsonl", Example)
    gold = np.array([e.label for e in evaluation])
    entries = read_jsonl(stages / "extract/knowledge.jsonl", Knowledge)
    by_store = predictor.retriever.retrieve(evaluation)
    k = max(map(len, by_store.ids))
    out: dict[str, Any] = {"run": run_dir.name, "entries": len(entries), "k": k}
    for method in STUDENTS:
        student = predictor._load(stages / "train" / method, "student")
        own = np.asarray(student.predict_proba(evaluation, None))
        learned = float(getattr(student, "lam", 0.0))
        temperature = float(getattr(student, "knn_temperature", 1.0))
        row: dict[str, Any] = {"learned_lam": learned, "own": float((own.argmax(1) == gold).mean())}
        spaces = {"store": by_store}
        if hasattr(student, "encode"):
            spaces["student"] = student_space(student, evaluation, entries, k)
        for space, neighbors in spaces.items():
            row[space] = {
                str(lam): float(
                    (interpolate(own, neighbors, lam, temperature).argmax(1) == gold).mean()
                )
                for lam in LAMS
            }
        out[method] = row
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = "| run | entries | student | learned λ | neighbours | " + " | ".join(
        f"λ={lam:g}" for lam in LAMS
    )
    lines = [head + " | best − λ=0 |", "|---|---:|---|---:|---|" + "---:|" * (len(LAMS) + 1)]
    for r in rows:
        for method in STUDENTS:
            m = r[method]
            for space in ("store", "student"):
                if space not in m:
                    continue
                accs = [m[space][str(lam)] * 100 for lam in LAMS]
                cells = [r["run"], r["entries"], method, f"{m['learned_lam']:.3f}", space]
                lines.append(
                    "| "
                    + " | ".join(str(c) for c in cells)
                    + " | "
                    + " | ".join(f"{a:.1f}" for a in accs)
                    + f" | {max(accs) - accs[0]:+.1f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/retrieval-ceiling.json")
    )
    args = parser.parse_args()
    rows = [measure(run) for run in args.runs]
    print(table(rows))
    atomic_write_json(args.out, {"lams": LAMS, "runs": rows})


if __name__ == "__main__":
    main()
