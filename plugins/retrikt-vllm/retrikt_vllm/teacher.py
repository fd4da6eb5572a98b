"""The ``vllm`` teacher: the ``llm`` teacher (verbalizer scores, an optional
soft prompt tuned in torch with peft) with its labelling done by vLLM.

A label's score is the log-probability of its verbalizer word after the
prompt. vLLM is asked for one next token restricted to the label words, with
log-probs read after that restriction: exactly the softmax over the label
words' logits that the ``llm`` teacher computes. A tuned soft prompt goes with
the prompt's token embeddings as prompt embeddings; a zero-shot teacher sends
plain token ids. Label words of several tokens are scored in torch, as by the
``llm`` teacher (vLLM returns no prompt log-probs for embeddings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrikt_transformers.teacher import LLMTeacher, LLMTeacherOptions

from retrikt_core.api import Example, option
from retrikt_vllm.engine import EngineOptions, dtype_name, engine


@dataclass
class VLLMTeacherOptions(LLMTeacherOptions, EngineOptions):
    engine_batch: int = option(
        1024, "examples handed to the engine per call when labelling", minimum=1
    )


class VLLMTeacher(LLMTeacher):
    """Verbalizer scores of a (soft-prompted) causal LM, computed by vLLM."""

    name = "vllm"
    Options = VLLMTeacherOptions

    def engine(self):
        self._load()
        base = self.model.get_base_model() if hasattr(self.model, "peft_config") else self.model
        return engine(self.options.model, dtype_name(base.dtype), self.options)

    def single_token_labels(self) -> list[int] | None:
        """The label words' token ids when each is one distinct token, else None."""
        ids = self._verbalizer_ids()
        firsts = [v[0] for v in ids if len(v) == 1]
        return firsts if len(firsts) == len(ids) == len(set(firsts)) else None

    def predict_proba(self, examples: list[Example]) -> list[list[float]]:
        self._load()
        labels = self.single_token_labels()
        if labels is None or not examples:
            return super().predict_proba(examples)
        out: list[list[float]] = []
        step = self.options.engine_batch
        for start in range(0, len(examples), step):
            out += self._engine_proba(examples[start : start + step], labels)
        return out

    def _prompts(self, examples: list[Example]) -> list[dict]:
        import torch

        rows = self._prompt_ids(examples)
        if not hasattr(self.model, "peft_config"):
            return [{"prompt_token_ids": ids} for ids in rows]
        base = self.model.get_base_model()
        table = base.get_input_embeddings()
        soft = self.model.prompt_encoder["default"].embedding.weight.detach()
        prompts = []
        with torch.no_grad():
            for ids in rows:
                words = table(torch.tensor(ids, device=self.device))
                # peft puts the virtual tokens before the input: so does this.
                embeds = torch.cat([soft.to(words.dtype), words]).cpu()
                prompts.append({"prompt_embeds": embeds})
        return prompts

    def _engine_proba(self, examples: list[Example], labels: list[int]) -> list[list[float]]:
        from vllm import SamplingParams

        params = SamplingParams(
            temperature=1.0,
            max_tokens=1,
            logprobs=len(labels),
            allowed_token_ids=labels,
            detokenize=False,
        )
        out = []
        for result in self.engine().generate(self._prompts(examples), params, use_tqdm=False):
            logprobs = result.outputs[0].logprobs[0]
            row = [math.exp(logprobs[token].logprob) for token in labels]
            total = sum(row)
            out.append([p / total for p in row])
        return out
