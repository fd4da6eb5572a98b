"""Teacher labelling on the local executor against Ray with 1 and 2 actors,
on this machine, in one run: rows/s, Ray's overhead as a ratio, and whether
every executor wrote the same labels.

    .venv/bin/python benchmarks/scale_out.py [--sentences 10000] [--local-all-threads]

The teacher is SmolLM2-135M with a soft prompt tuned on 16 SST-2 train
examples, saved once and loaded by every Ray actor through from_pretrained.
Sentences are sampled from SST-2 train and labelled as ``extract`` labels
them (shortest first, batches of 32, shards of 256 rows). Every arm runs
torch on one thread (the local executor in this process, each Ray actor in
its own); ``--local-all-threads`` adds a local arm on all of the machine's
threads. Each arm starts from an empty shard folder. Prints a table and writes
benchmarks/results/scale_out.json.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--sentences", type=int, default=10000)
    parser.add_argument("--local-all-threads", action="store_true")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--shard-rows", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/scale_out.json")
    args = parser.parse_args()

    import ray
    import torch
    from retrikt_ray.executor import RayExecutor, RayOptions
    from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

    from retrikt_core.builtin.local_executor import LocalExecutor, LocalOptions
    from retrikt_core.builtin.tasks import SST2Task
    from retrikt_core.builtin.tasks.presets import PresetOptions
    from retrikt_core.execution import ShardFolder, run_sharded
    from retrikt_core.pipeline.work import LabelWork

    task = SST2Task(PresetOptions(data_dir=args.data_dir))
    train = task.load("train")
    rng = random.Random(0)
    shots = rng.sample(train, 16)
    sentences = sorted(rng.sample(train, args.sentences), key=lambda e: len(e.text))
    rows = [{"text": e.text, "text_pair": None} for e in sentences]
    scratch = Path(tempfile.mkdtemp(prefix="retrikt-scale-out-"))
    teacher = LLMTeacher(LLMTeacherOptions(virtual_tokens=8, epochs=10, batch_size=args.batch))
    teacher.fit(task, shots, seed=0)
    saved = scratch / "teacher"
    teacher.save_pretrained(saved)

    threads = torch.get_num_threads()
    arms = {}
    if args.local_all_threads:
        arms[f"local ({threads} threads)"] = (LocalExecutor(LocalOptions()), threads)
    arms |= {
        "local (1 thread)": (LocalExecutor(LocalOptions()), 1),
        "ray, 1 actor": (RayExecutor(RayOptions(actors=1)), threads),
        "ray, 2 actors": (RayExecutor(RayOptions(actors=2)), threads),
    }
    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started
    results: dict[str, dict] = {}
    labels: dict[str, list] = {}
    for name, (executor, torch_threads) in arms.items():
        torch.set_num_threads(torch_threads)
        # Local arms label with the teacher in hand; Ray actors load `saved`.
        work = LabelWork(str(saved), args.batch, teacher if name.startswith("local") else None)
        folder = ShardFolder(scratch / name.replace(" ", "_").replace(",", ""), "bench")
        start = time.perf_counter()
        labels[name] = run_sharded(executor, work, rows, args.shard_rows, folder, name)
        seconds = time.perf_counter() - start
        results[name] = {"seconds": seconds, "rows_per_s": len(rows) / seconds}
    torch.set_num_threads(threads)
    ray.shutdown()

    reference = labels[next(iter(arms))]
    gold = [e.label for e in sentences]
    for name, got in labels.items():
        pairs = zip(got, reference, strict=True)
        diff = max(abs(a - b) for x, y in pairs for a, b in zip(x, y, strict=True))
        predicted = [max(range(len(p)), key=p.__getitem__) for p in got]
        results[name].update(
            identical=got == reference,
            max_abs_diff=diff,
            accuracy=sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold),
        )
    one_thread = results["local (1 thread)"]["seconds"]
    summary = {
        "sentences": len(rows),
        "machine_cpus": os.cpu_count(),
        "ray_init_seconds": ray_start,
        "arms": results,
        "ray_1_actor_over_local_1_thread": results["ray, 1 actor"]["seconds"] / one_thread,
        "ray_2_actors_speedup_over_1": results["ray, 1 actor"]["seconds"]
        / results["ray, 2 actors"]["seconds"],
    }
    atomic_write_json(args.out, summary)
    print(f"teacher labelling of {len(rows)} SST-2 train sentences (SmolLM2-135M, tuned)")
    print(f"{'executor':<22} {'seconds':>8} {'rows/s':>7} {'accuracy':>9} {'same labels':>12}")
    for name, row in results.items():
        same = "yes" if row["identical"] else f"max diff {row['max_abs_diff']:.1e}"
        print(
            f"{name:<22} {row['seconds']:>8.1f} {row['rows_per_s']:>7.1f} "
            f"{row['accuracy']:>9.1%} {same:>12}"
        )
    print(
        f"Ray start {ray_start:.1f} s; 1 actor / local 1 thread: "
        f"{summary['ray_1_actor_over_local_1_thread']:.2f}x time; 2 actors vs 1: "
        f"{summary['ray_2_actors_speedup_over_1']:.2f}x faster"
    )


if __name__ == "__main__":
    main()
