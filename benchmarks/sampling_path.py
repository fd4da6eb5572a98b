"""CPU time of sampling from a tuned soft-prompt generator two ways, one torch
thread, same process: through ``PeftModel.generate`` (which recomputes the
whole sequence at every step) and through the base model's ``generate`` with the soft prompt
and cue given as embeddings (what it does now, so the KV cache is used):

    .venv/bin/python benchmarks/sampling_path.py runs/method/rte-s0-gen2k [--batch 8 --tokens 24]

Prints the CPU seconds of each and writes benchmarks/results/sampling-path.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from retrikt_core.atomic import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run whose reinforce stage finished")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--out", default="benchmarks/results/sampling-path.json")
    args = parser.parse_args()

    import torch
    from retrikt_transformers.generator import LLMGenerator

    torch.set_num_threads(1)
    generator = LLMGenerator.from_pretrained(args.run_dir / "stages" / "reinforce" / "generator")
    generator._ensure_loaded()
    generator.use(0)
    base = generator.model.get_base_model()
    cue = torch.tensor([generator.cue_ids()]).expand(args.batch, -1)
    common = dict(
        do_sample=True,
        max_new_tokens=args.tokens,
        min_new_tokens=args.tokens,
        pad_token_id=generator.tokenizer.pad_token_id,
        use_cache=True,
    )

    def peft_path():
        return generator.model.generate(
            input_ids=cue, attention_mask=torch.ones_like(cue), **common
        )

    def embeddings_path():
        embeds = generator.prefix_embeddings(0, args.batch)
        mask = torch.ones(args.batch, embeds.shape[1], dtype=torch.long)
        return base.generate(inputs_embeds=embeds, attention_mask=mask, **common)

    seconds: dict[str, list[float]] = {"peft_generate": [], "embeddings_generate": []}
    with torch.no_grad():
        for name, fn in [
            ("peft_generate", peft_path),
            ("embeddings_generate", embeddings_path),
        ] * 2:
            torch.manual_seed(0)
            started = time.process_time()
            fn()
            seconds[name].append(round(time.process_time() - started, 2))
            print(f"{name}: {seconds[name][-1]} CPU s", flush=True)
    mean = {k: sum(v) / len(v) for k, v in seconds.items()}
    print(
        f"speed-up {mean['peft_generate'] / mean['embeddings_generate']:.2f}x "
        f"({args.batch} samples x {args.tokens} tokens)"
    )
    atomic_write_json(
        Path(args.out), {"batch": args.batch, "tokens": args.tokens, "cpu_seconds": seconds}
    )


if __name__ == "__main__":
    main()
