"""Teacher accuracy: SmolLM2-135M-Instruct as a verbalizer classifier, zero-shot
vs a soft prompt tuned on k examples per class, per task and seed.

    .venv/bin/python benchmarks/teacher.py --data-dir ../shared/data \
        --tasks sst2,rte,cb --seeds 0,1,2

Prints a table and writes benchmarks/results/teacher.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

from retrikt_core.atomic import atomic_write_json
from retrikt_core.metrics import classification_metrics
from retrikt_core.plugins import get_plugins


def evaluate(teacher, examples, num_labels):
    start = time.perf_counter()
    probs = teacher.predict_proba(examples)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(probs, [e.label for e in examples], num_labels)
    return {**metrics, "examples_per_s": len(examples) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--tasks", default="sst2,rte,cb")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--virtual-tokens", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/teacher.json")
    args = parser.parse_args()
    os.environ["RETRIKT_DATA_DIR"] = args.data_dir
    registry = get_plugins().registry
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "args": vars(args),
        "tasks": {},
    }
    for name in args.tasks.split(","):
        task = registry.get("task", name)()
        train, evaluation = task.load(task.train_split), task.load(task.eval_split)
        zero = LLMTeacher(LLMTeacherOptions(virtual_tokens=0, batch_size=16))
        zero.fit(task, [], seed=0)
        row = {"zero_shot": evaluate(zero, evaluation, task.num_labels), "tuned": []}
        print(f"{name} zero-shot: {row['zero_shot']['accuracy']:.4f}", flush=True)
        for seed in map(int, args.seeds.split(",")):
            kshot = task.sample_k_shot(train, args.k, seed)
            teacher = LLMTeacher(
                LLMTeacherOptions(
                    virtual_tokens=args.virtual_tokens, epochs=args.epochs, batch_size=8
                )
            )
            start = time.perf_counter()
            stats = teacher.fit(task, kshot, seed=seed)
            tune_s = time.perf_counter() - start
            result = {
                "seed": seed,
                "tune_seconds": tune_s,
                **stats,
                **evaluate(teacher, evaluation, task.num_labels),
            }
            row["tuned"].append(result)
            results["tasks"][name] = row
            atomic_write_json(args.out, results)  # every row: a cut run keeps results
            print(
                f"{name} seed {seed} tuned: {result['accuracy']:.4f} "
                f"(loss {stats['first_loss']:.3f} -> {stats['last_loss']:.3f}, "
                f"{tune_s:.0f}s)",
                flush=True,
            )
        accs = [r["accuracy"] for r in row["tuned"]]
        row["tuned_mean"] = statistics.mean(accs)
        row["tuned_std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
        row["eval_examples"] = len(evaluation)
        results["tasks"][name] = row
    print(
        "\n| task | eval | zero-shot acc | tuned acc (mean ± std) | macro-F1 zero / tuned | ex/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in results["tasks"].items():
        f1 = statistics.mean(r["macro_f1"] for r in row["tuned"])
        print(
            f"| {name} | {row['eval_examples']} | {row['zero_shot']['accuracy']:.1%} "
            f"| {row['tuned_mean']:.1%} ± {row['tuned_std']:.1%} "
            f"| {row['zero_shot']['macro_f1']:.3f} / {f1:.3f} "
            f"| {row['zero_shot']['examples_per_s']:.1f} |"
        )
    atomic_write_json(args.out, results)


if __name__ == "__main__":
    main()
