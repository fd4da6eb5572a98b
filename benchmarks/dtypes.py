"""The `llm` teacher in float32 against bfloat16 on this CPU: CPU seconds to
label SST-2 dev sentences, and how often the two agree.

    .venv/bin/python benchmarks/dtypes.py [--run-dir runs/demo] [--sentences 128]

With ``--run-dir`` the run's tuned teacher is used (its soft prompt, in
float32 either way); without, SmolLM2 zero-shot. The two dtypes alternate
(``--rounds`` each, two by default) in one process with the same torch threads, so both see the
same machine. Prints a table and writes benchmarks/results/dtypes.json.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, help="a run whose teacher stage finished (SST-2)")
    parser.add_argument("--sentences", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per dtype")
    parser.add_argument("--data-dir", default=os.environ.get("RETRIKT_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/dtypes.json")
    args = parser.parse_args()

    import torch
    from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

    from retrikt_core.builtin.tasks import SST2Task
    from retrikt_core.builtin.tasks.presets import PresetOptions

    # The dev split as the sst2 task reads it (texts stripped, as in a run).
    task = SST2Task(PresetOptions(data_dir=args.data_dir))
    examples = task.load("dev")[: args.sentences]

    def teacher(dtype: str) -> LLMTeacher:
        if args.run_dir:
            made = LLMTeacher.from_pretrained(args.run_dir / "stages" / "teacher" / "teacher")
            made.options.dtype = dtype
            made.model = None
            made.load_state(args.run_dir / "stages" / "teacher" / "teacher")
        else:
            made = LLMTeacher(
                LLMTeacherOptions(virtual_tokens=0, batch_size=args.batch, dtype=dtype)
            )
            made.fit(task, [], seed=0)
        made.options.batch_size = args.batch
        return made

    teachers = {dtype: teacher(dtype) for dtype in ("float32", "bfloat16")}
    seconds: dict[str, list[float]] = {dtype: [] for dtype in teachers}
    probs: dict[str, list[list[float]]] = {}
    for _ in range(args.rounds):
        for dtype, model in teachers.items():
            start = time.process_time()
            probs[dtype] = model.predict_proba(examples)
            seconds[dtype].append(time.process_time() - start)
    full, low = torch.tensor(probs["float32"]), torch.tensor(probs["bfloat16"])
    gold = torch.tensor([e.label for e in examples])
    result = {
        "sentences": len(examples),
        "teacher": str(args.run_dir or "smollm2-135m-instruct zero-shot"),
        "torch_threads": torch.get_num_threads(),
        "cpu_seconds": seconds,
        "examples_per_cpu_s": {d: len(examples) / min(s) for d, s in seconds.items()},
        "bfloat16_cpu_time_ratio": min(seconds["bfloat16"]) / min(seconds["float32"]),
        "label_agreement": float((full.argmax(1) == low.argmax(1)).float().mean()),
        "max_abs_prob_diff": float((full - low).abs().max()),
        "accuracy": {
            "float32": float((full.argmax(1) == gold).float().mean()),
            "bfloat16": float((low.argmax(1) == gold).float().mean()),
        },
    }
    print(f"{'dtype':<10} {'best CPU s':>10} {'ex/CPU s':>9} {'accuracy':>9}")
    for dtype in teachers:
        best = min(seconds[dtype])
        print(
            f"{dtype:<10} {best:>10.1f} {len(examples) / best:>9.2f} "
            f"{result['accuracy'][dtype]:>9.1%}"
        )
    print(
        f"bfloat16 / float32 CPU time: {result['bfloat16_cpu_time_ratio']:.2f}x; labels agree on "
        f"{result['label_agreement']:.1%}; largest probability change "
        f"{result['max_abs_prob_diff']:.3f}"
    )
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
