"""The ``vllm`` generator: the ``llm`` generator's soft prompts, tuned in torch
with peft exactly as there, sampled by a vLLM engine.

Each label's soft prompt and the cue go to vLLM as prompt embeddings, so the
tuned prompts are used as they are, with no export step. The RL policy samples
through here too (only the prompts change between PPO steps, and they travel
with every request); its scoring stays in torch, since vLLM returns no prompt
log-probs for embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrikt_transformers.generator import LLMGenerator, LLMGeneratorOptions

from retrikt_core.api import Task, option, track
from retrikt_vllm.engine import EngineOptions, check_available, dtype_name, engine


@dataclass
class VLLMGeneratorOptions(LLMGeneratorOptions, EngineOptions):
    gen_batch_size: int = option(256, "samples handed to the engine per call", minimum=1)


def request_seed(seed: int, index: int) -> int:
    """The seed of sample ``index``: each request has its own, so a sample does
    not depend on which others were batched with it."""
    return (seed * 1_000_003 + index) % (1 << 31)


class VLLMGenerator(LLMGenerator):
    """Label-conditioned soft prompts (peft, tuned in torch) sampled by vLLM."""

    name = "vllm"
    Options = VLLMGeneratorOptions

    def check(self, task: Task, n: int) -> None:
        check_available("generator")
        super().check(task, n)

    def engine(self):
        self._ensure_loaded()
        dtype = self.model.get_base_model().dtype
        return engine(self.options.model, dtype_name(dtype), self.options)

    def sample_ids(self, label: int, n: int, *, seed: int, greedy: bool = False) -> list[list[int]]:
        import torch
        from vllm import SamplingParams

        o = self.options
        llm = self.engine()
        with torch.no_grad():
            prompt = self.prefix_embeddings(label, 1)[0].detach().cpu()
        eos = self.tokenizer.eos_token_id
        out: list[list[int]] = []
        batches = range(0, n, o.gen_batch_size)
        for start in track(batches, f"generator: sampling label {label}", total=len(batches)):
            size = min(o.gen_batch_size, n - start)
            params = [
                SamplingParams(
                    temperature=0.0 if greedy else o.temperature,
                    top_p=1.0 if greedy else o.top_p,
                    max_tokens=o.max_new_tokens,
                    min_tokens=min(o.min_new_tokens, o.max_new_tokens),
                    repetition_penalty=o.repetition_penalty,
                    seed=request_seed(seed, start + i),
                    detokenize=False,
                )
                for i in range(size)
            ]
            prompts = [{"prompt_embeds": prompt} for _ in range(size)]
            for result in llm.generate(prompts, params, use_tqdm=False):
                ids = list(result.outputs[0].token_ids)
                if eos in ids:
                    ids = ids[: ids.index(eos)]
                out.append(ids)
        return out
