"""The vLLM engine against transformers on this machine, in one run: sampling
throughput, labelling throughput and agreement, float32 against bfloat16,
and the SST-2 method end to end with each engine's stages.

    make setup-vllm
    .venv-vllm/bin/python benchmarks/engines.py [--label-n 5000] [--e2e]

Runs in ``.venv-vllm`` (it holds both engines). Same soft prompts, lengths,
sample count and seeds for both engines; timings are wall seconds (vLLM
computes in a worker process). The transformers side is measured before the
engine starts and the engine is stopped after its turn: an idle vLLM CPU
worker keeps polling, and would take CPU from whatever runs beside it.
Prints tables and writes benchmarks/results/engines.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from retrikt_core.atomic import atomic_write_json


def best_of(rounds: int, runs: dict) -> dict[str, tuple[float, object]]:
    """{name: (best wall seconds, last result)}, the callables alternating
    when there are several."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            seconds[name].append(time.perf_counter() - start)
    return {name: (min(seconds[name]), results[name]) for name in runs}


def generation(args, task, shots) -> dict:
    """Tokens/s of sampling the same soft prompt: transformers at each batch
    size in ``--hf-batches`` (its best kept), vLLM in one call per label."""
    from retrikt_transformers.generator import LLMGenerator
    from retrikt_vllm.engine import shutdown_engines
    from retrikt_vllm.generator import VLLMGenerator, VLLMGeneratorOptions

    out: dict = {}
    for dtype in args.dtypes:
        options = VLLMGeneratorOptions(
            virtual_tokens=16,
            epochs=args.generator_epochs,
            max_new_tokens=args.tokens,
            min_new_tokens=args.tokens,
            gen_batch_size=args.samples,
            dtype=dtype,
        )
        generator = VLLMGenerator(options)
        generator.fit(task, shots, seed=0)

        def hf(batch: int, generator=generator):
            generator.options.gen_batch_size = batch
            return LLMGenerator.sample_ids(generator, 1, args.samples, seed=0)

        def engine(generator=generator):
            generator.options.gen_batch_size = args.samples
            return generator.sample_ids(1, args.samples, seed=0)

        runs = {f"transformers@{b}": (lambda b=b: hf(b)) for b in args.hf_batches}
        timed = best_of(args.rounds, runs)
        generator.sample_ids(0, 2, seed=99)  # the engine started and warm
        timed |= best_of(args.rounds, {"vllm": engine})
        shutdown_engines()
        rows = {}
        for name, (seconds, samples) in timed.items():
            tokens = sum(len(s) for s in samples)
            rows[name] = {"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds}
        best_hf = max((r for n, r in rows.items() if n != "vllm"), key=lambda r: r["tokens_per_s"])
        out[dtype] = {
            "rows": rows,
            "vllm_over_best_transformers": rows["vllm"]["tokens_per_s"] / best_hf["tokens_per_s"],
        }
    return out


def labelling(args, task, shots, sentences) -> dict:
    """Examples/s of the same tuned teacher labelling ``sentences``, by vLLM
    and by torch, and how often they agree."""
    from retrikt_transformers.teacher import LLMTeacher
    from retrikt_vllm.engine import shutdown_engines
    from retrikt_vllm.teacher import VLLMTeacher, VLLMTeacherOptions

    gold = [e.label for e in sentences]
    out: dict = {}
    for dtype in args.dtypes:
        options = VLLMTeacherOptions(virtual_tokens=8, epochs=10, batch_size=32, dtype=dtype)
        teacher = VLLMTeacher(options)
        teacher.fit(task, shots, seed=0)
        hf_n = len(sentences) if dtype == "float32" else min(args.bf16_hf_n, len(sentences))
        # Thousands of sentences: each side is measured once.
        head = sentences[:hf_n]
        timed = best_of(1, {"transformers": partial(LLMTeacher.predict_proba, teacher, head)})
        teacher.predict_proba(sentences[:8])  # the engine started and warm
        timed |= best_of(1, {"vllm": partial(teacher.predict_proba, sentences)})
        shutdown_engines()
        rows = {}
        for name, (seconds, probs) in timed.items():
            n = len(probs)
            predicted = [max(range(len(p)), key=p.__getitem__) for p in probs]
            rows[name] = {
                "sentences": n,
                "seconds": seconds,
                "examples_per_s": n / seconds,
                "accuracy": sum(p == g for p, g in zip(predicted, gold[:n], strict=True)) / n,
                "predicted": predicted,
            }
        shared = rows["transformers"]["sentences"]
        pairs = zip(
            rows["vllm"]["predicted"][:shared], rows["transformers"]["predicted"], strict=True
        )
        agree = sum(a == b for a, b in pairs)
        for row in rows.values():
            row.pop("predicted")
        out[dtype] = {
            "rows": rows,
            "label_agreement": agree / shared,
            "vllm_over_transformers": rows["vllm"]["examples_per_s"]
            / rows["transformers"]["examples_per_s"],
        }
    return out


def end_to_end(args) -> dict:
    """`retrikt run` of the SST-2 method config with the llm stages, then with
    the vllm stages (the engine labels in batches of 512)."""
    config = "examples/configs/sst2-retrikt.toml"
    engines = {
        "transformers": [],
        "vllm": [
            "--set",
            "generator.plugin=vllm",
            "--set",
            "teacher.plugin=vllm",
            "--set",
            "extract.teacher_batch_size=512",
        ],
    }
    out = {}
    for name, overrides in engines.items():
        run_dir = Path(args.e2e_dir) / name
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        command = [
            sys.executable,
            "-m",
            "retrikt_core.cli",
            "run",
            config,
            "--data-dir",
            args.data_dir,
            "--run-dir",
            str(run_dir),
            *overrides,
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "RETRIKT_PROGRESS": "0"})
        seconds = time.perf_counter() - start
        metrics = json.loads((run_dir / "metrics.json").read_text())
        manifest = json.loads((run_dir / "manifest.json").read_text())
        out[name] = {
            "wall_seconds": seconds,
            "stage_seconds": {s: r.get("seconds") for s, r in manifest["stages"].items()},
            "accuracy": {m: r["accuracy"] for m, r in metrics["methods"].items()},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--samples", type=int, default=64, help="samples per measurement")
    parser.add_argument("--tokens", type=int, default=40, help="tokens per sample (fixed)")
    parser.add_argument("--hf-batches", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--generator-epochs", type=int, default=3)
    parser.add_argument("--label-n", type=int, default=5000, help="SST-2 train sentences")
    parser.add_argument("--bf16-hf-n", type=int, default=500, help="of those, for torch bf16")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--e2e", action="store_true", help="also run the method end to end")
    parser.add_argument("--e2e-dir", default="runs/engines")
    parser.add_argument("--out", default="benchmarks/results/engines.json")
    args = parser.parse_args()

    import torch

    from retrikt_core.builtin.tasks import SST2Task
    from retrikt_core.builtin.tasks.presets import PresetOptions

    task = SST2Task(PresetOptions(data_dir=args.data_dir))
    train = task.load("train")
    rng = random.Random(0)
    shots = rng.sample(train, 16)
    sentences = rng.sample(train, args.label_n)
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "generation": generation(args, task, shots),
        "labelling": labelling(args, task, shots, sentences),
    }
    if args.e2e:
        result["end_to_end"] = end_to_end(args)
    atomic_write_json(args.out, result)
    print_tables(result)


def print_tables(result: dict) -> None:
    settings = result["settings"]
    print(f"\nsampling: {settings['samples']} samples x {settings['tokens']} tokens")
    print(f"{'dtype':<9} {'engine':<16} {'seconds':>8} {'tokens/s':>9}")
    for dtype, block in result["generation"].items():
        for name, row in block["rows"].items():
            print(f"{dtype:<9} {name:<16} {row['seconds']:>8.1f} {row['tokens_per_s']:>9.1f}")
        print(f"{dtype:<9} vLLM / best transformers: {block['vllm_over_best_transformers']:.2f}x")
    print("\nlabelling SST-2 train sentences with the tuned teacher")
    print(f"{'dtype':<9} {'engine':<13} {'n':>5} {'seconds':>8} {'ex/s':>7} {'accuracy':>9}")
    for dtype, block in result["labelling"].items():
        for name, row in block["rows"].items():
            print(
                f"{dtype:<9} {name:<13} {row['sentences']:>5} {row['seconds']:>8.1f} "
                f"{row['examples_per_s']:>7.1f} {row['accuracy']:>9.1%}"
            )
        print(
            f"{dtype:<9} vLLM / transformers: {block['vllm_over_transformers']:.2f}x, "
            f"labels agree on {block['label_agreement']:.1%}"
        )
    if "end_to_end" in result:
        print("\nSST-2 method end to end (examples/configs/sst2-retrikt.toml)")
        for name, row in result["end_to_end"].items():
            accuracy = ", ".join(f"{m} {a:.1%}" for m, a in row["accuracy"].items())
            print(f"{name:<13} {row['wall_seconds'] / 60:>5.1f} min  {accuracy}")


if __name__ == "__main__":
    main()
