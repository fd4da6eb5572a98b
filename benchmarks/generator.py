"""Generator quality before vs after soft-prompt tuning, and sampling throughput.

Quality, per task: the SmolLM2 generator with label prompts left at their
initialisation ("untuned") and after supervised tuning on k examples per class
("tuned"), N samples per label each: label consistency (share the tuned LLM
teacher assigns to the requested label), distinct-2, degenerate share.

Throughput: tokens/s of the generator's sampling vs a bare ``model.generate``
loop on the same base model, same batch size and fixed lengths, same run.

    .venv/bin/python benchmarks/generator.py --data-dir ../shared/data --tasks sst2,rte

Prints tables and writes benchmarks/results/generator.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter

from retrikt_transformers.generator import LLMGenerator, LLMGeneratorOptions
from retrikt_transformers.models import load_causal_lm
from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

from retrikt_core.atomic import atomic_write_json
from retrikt_core.knowledge import degenerate_reason, distinct_n
from retrikt_core.plugins import get_plugins


def quality(samples, teacher, task) -> dict:
    reasons = Counter(degenerate_reason(s, task.is_pair) for s in samples)
    usable = [s for s in samples if degenerate_reason(s, task.is_pair) is None]
    consistent = 0
    if usable:
        probs = teacher.predict_proba([s.example for s in usable])
        consistent = sum(
            max(range(len(p)), key=p.__getitem__) == s.requested_label
            for s, p in zip(usable, probs, strict=True)
        )
    texts = [f"{s.text} {s.text_pair or ''}" for s in samples]
    return {
        "samples": len(samples),
        # Degenerate samples count as inconsistent: the teacher cannot judge them.
        "label_consistency": consistent / len(samples),
        "distinct_2": distinct_n(texts, 2),
        "degenerate_share": 1 - reasons[None] / len(samples),
        "degenerate": {k: v for k, v in reasons.items() if k},
        "examples": [s.provenance["raw"][:160] for s in samples[:3]],
    }


def throughput(args) -> dict:
    import torch

    generator = LLMGenerator(
        LLMGeneratorOptions(
            epochs=0,
            gen_batch_size=args.batch,
            max_new_tokens=args.tokens,
            min_new_tokens=args.tokens,
        )
    )
    task = get_plugins().registry.get("task", "sst2")()
    generator.fit(task, task.sample_k_shot(task.load("train"), 1, 0), seed=0)
    base, tokenizer = load_causal_lm(generator.options.model)
    cue = torch.tensor([generator.cue_ids()]).expand(args.batch, -1)
    n = args.batch * args.rounds
    rows = {}
    for name in ("bare_generate", "retrikt_generator", "bare_generate_2", "retrikt_generator_2"):
        start = time.perf_counter()
        if name.startswith("bare"):
            torch.manual_seed(0)
            with torch.no_grad():
                for _ in range(args.rounds):
                    base.generate(
                        input_ids=cue,
                        attention_mask=torch.ones_like(cue),
                        do_sample=True,
                        top_p=0.95,
                        max_new_tokens=args.tokens,
                        min_new_tokens=args.tokens,
                        repetition_penalty=1.1,
                        pad_token_id=tokenizer.pad_token_id,
                    )
        else:
            generator.sample_ids(0, n, seed=0)
        seconds = time.perf_counter() - start
        rows[name] = n * args.tokens / seconds
        print(f"{name}: {rows[name]:.1f} tokens/s", flush=True)
    bare = (rows["bare_generate"] + rows["bare_generate_2"]) / 2
    ours = (rows["retrikt_generator"] + rows["retrikt_generator_2"]) / 2
    return {
        "batch": args.batch,
        "new_tokens": args.tokens,
        "samples": n,
        "tokens_per_s": rows,
        "bare_mean": bare,
        "generator_mean": ours,
        "ratio": ours / bare,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--tasks", default="sst2,rte")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--per-label", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/generator.json")
    args = parser.parse_args()
    os.environ["RETRIKT_DATA_DIR"] = args.data_dir
    registry = get_plugins().registry
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "args": vars(args),
        "quality": {},
    }
    if not args.skip_throughput:
        results["throughput"] = throughput(args)
    for name in [] if args.skip_quality else args.tasks.split(","):
        task = registry.get("task", name)()
        kshot = task.sample_k_shot(task.load(task.train_split), args.k, args.seed)
        teacher = LLMTeacher(LLMTeacherOptions())
        teacher.fit(task, kshot, seed=args.seed)
        rows = {}
        for variant, epochs in (("untuned", 0), ("tuned", args.epochs)):
            generator = LLMGenerator(LLMGeneratorOptions(epochs=epochs))
            start = time.perf_counter()
            generator.fit(task, kshot, seed=args.seed)
            samples = []
            for label in range(task.num_labels):
                samples += generator.generate(label, args.per_label, seed=args.seed + label)
            rows[variant] = {
                **quality(samples, teacher, task),
                "seconds": time.perf_counter() - start,
            }
            print(f"{name} {variant}: {json.dumps(rows[variant])[:400]}", flush=True)
            results["quality"][name] = rows
            atomic_write_json(args.out, results)  # every row: a cut run keeps results
    if results["quality"]:
        print("\n| task | prompts | label consistency | distinct-2 | degenerate |")
        print("|---|---|---:|---:|---:|")
        for name, rows in results["quality"].items():
            for variant, r in rows.items():
                print(
                    f"| {name} | {variant} | {r['label_consistency']:.1%} "
                    f"| {r['distinct_2']:.3f} | {r['degenerate_share']:.1%} |"
                )
    if "throughput" in results:
        t = results["throughput"]
        print(
            f"\nthroughput (batch {t['batch']}, {t['new_tokens']} new tokens): bare "
            f"{t['bare_mean']:.1f} tok/s, generator {t['generator_mean']:.1f} tok/s, "
            f"ratio {t['ratio']:.1%}"
        )
    atomic_write_json(args.out, results)


if __name__ == "__main__":
    main()
