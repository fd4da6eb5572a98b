"""The LLM as a classifier: label scores are the log-probabilities of each
label's verbalizer word after a prompt; optionally a soft prompt (peft prompt
tuning, the LLM frozen) is tuned on the k-shot examples."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retrikt_core.api import (
    DEVICE_HELP,
    DTYPE_HELP,
    Example,
    Task,
    Teacher,
    check_device,
    option,
    placement,
    track,
)
from retrikt_transformers.models import (
    SMOLLM2,
    float32_logits,
    float32_residual,
    load_causal_lm,
)
from retrikt_transformers.prompts import default_template, render


@dataclass
class LLMTeacherOptions:
    model: str = option(SMOLLM2, "smollm2-135m-instruct (offline), a hub name, or a folder")
    template: str = option("", "prompt with {text} {text_pair} {choices}; empty = task default")
    virtual_tokens: int = option(8, "soft-prompt length; 0 = zero-shot (no tuning)", minimum=0)
    epochs: int = option(10, "passes over the k-shot examples when tuning", minimum=0)
    lr: float = option(0.03, "Adam learning rate for the soft prompt", minimum=0.0)
    batch_size: int = option(8, "examples per step (tuning) / per forward (prediction)", minimum=1)
    max_length: int = option(256, "prompt tokens kept (the start of long inputs is cut)", minimum=1)
    init_text: str = option("Classify the text.", "text whose embeddings initialise the prompt")
    device: str = option("auto", DEVICE_HELP)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = option("auto", DTYPE_HELP)

    def __post_init__(self) -> None:
        check_device("device", self.device)


class LLMTeacher(Teacher):
    """A causal LM scored by verbalizer log-probs, with an optional tuned soft prompt."""

    name = "llm"
    Options = LLMTeacherOptions

    def __init__(self, options: LLMTeacherOptions | None = None) -> None:
        super().__init__(options)
        self.model = None
        self.tokenizer = None
        self.device = "cpu"
        self.verbalizers: list[str] = []
        self.template = ""
        self.description = ""

    # --- model ----------------------------------------------------------------
    def _load(self) -> None:
        if self.model is None:
            self.device, dtype = placement(self.options.device, self.options.dtype)
            self.model, self.tokenizer = load_causal_lm(self.options.model, self.device, dtype)

    def _attach_prompt(self) -> None:
        """Wrap the frozen LM in a peft prompt-tuning model, the prompt
        initialised from the embeddings of ``init_text``."""
        import torch
        from peft import PromptTuningConfig, TaskType, get_peft_model

        n = self.options.virtual_tokens
        config = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=n)
        base = self.model
        self.model = get_peft_model(base, config)
        init = self.tokenizer(self.options.init_text, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([init[i % len(init)] for i in range(n)], device=self.device)
        with torch.no_grad():
            weight = self.model.prompt_encoder["default"].embedding.weight
            weight.copy_(base.get_input_embeddings()(ids))

    def _verbalizer_ids(self) -> list[list[int]]:
        # A leading space: the word follows "...:" as a new word.
        return [
            self.tokenizer(" " + v, add_special_tokens=False)["input_ids"] for v in self.verbalizers
        ]

    def _label_logprobs(self, examples: list[Example]):
        """``[n, C]`` summed log-probs of each verbalizer's tokens after the prompt.

        Sequences are right-padded (prompt, verbalizer, pad) so every real token
        keeps the position it has unbatched: scores do not depend on the batch.
        """
        import torch

        prompt_ids = self._prompt_ids(examples)
        verbalizers = self._verbalizer_ids()
        if all(len(v) == 1 for v in verbalizers):
            # One forward pass serves every label: read the next-token distribution.
            last = [[len(ids) - 1] for ids in prompt_ids]
            logp = self._logprobs_at(prompt_ids, last)[:, 0, :]
            return logp[:, [v[0] for v in verbalizers]]
        columns = []
        for verb in verbalizers:
            # Token t at position p is predicted by the output at p - 1.
            positions = [list(range(len(ids) - 1, len(ids) - 1 + len(verb))) for ids in prompt_ids]
            logp = self._logprobs_at([ids + verb for ids in prompt_ids], positions)
            columns.append(logp[:, :, verb].diagonal(dim1=1, dim2=2).sum(1))
        return torch.stack(columns, dim=1)

    def _prompt_ids(self, examples: list[Example]) -> list[list[int]]:
        prompts = [render(self.template, e, self.verbalizers, self.description) for e in examples]
        # Keep the end of a long prompt: the question and the answer cue are there.
        return [
            ids[-self.options.max_length :]
            for ids in self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        ]

    def _logprobs_at(self, rows: list[list[int]], positions: list[list[int]]):
        """Log-softmax over the vocabulary at the given positions only: ``[n, P, V]``.

        The LM head runs on those positions alone; over every position of a
        batch it would cost more than the whole transformer.
        """
        hidden = self._hidden_at(rows, positions)
        return float32_logits(self.model.get_output_embeddings(), hidden).log_softmax(-1)

    def _hidden_at(self, rows: list[list[int]], positions: list[list[int]]):
        """The final hidden states (after the last norm) at the given positions: ``[n, P, D]``."""
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(map(len, rows))
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.device)
        mask = torch.tensor(
            [[1] * len(r) + [0] * (width - len(r)) for r in rows], device=self.device
        )
        embeds, context = float32_residual(self.model, input_ids)
        with context:
            out = self.model(
                inputs_embeds=embeds,
                attention_mask=mask,
                output_hidden_states=True,
                logits_to_keep=1,
            )
        hidden = out.hidden_states[-1]  # after the final norm
        offset = hidden.shape[1] - width  # virtual tokens that peft prepends
        index = torch.tensor(positions, device=self.device) + offset
        rows_index = torch.arange(len(rows), device=self.device).unsqueeze(1)
        return hidden[rows_index, index]

    # --- Teacher --------------------------------------------------------------
    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        import torch

        self._load()
        self.verbalizers = list(task.verbalizers)
        self.template = self.options.template or default_template(task)
        self.description = task.description
        stats: dict[str, Any] = {"model": self.options.model}
        if self.options.virtual_tokens <= 0:
            stats["tuned"] = False
            return stats
        torch.manual_seed(seed)
        self._attach_prompt()
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=self.options.lr)
        labels = torch.tensor([e.label for e in examples], device=self.device)
        generator = torch.Generator().manual_seed(seed)
        losses = []
        bs = self.options.batch_size
        for _ in track(range(self.options.epochs), "teacher: soft-prompt tuning"):
            order = torch.randperm(len(examples), generator=generator).tolist()
            total = 0.0
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                scores = self._label_logprobs([examples[i] for i in idx])
                loss = torch.nn.functional.cross_entropy(scores, labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            losses.append(total / len(examples))
        self.model.eval()
        stats.update(tuned=True, first_loss=losses[0], last_loss=losses[-1])
        return stats

    def predict_proba(self, examples: list[Example]) -> list[list[float]]:
        import torch

        self._load()
        out: list[list[float]] = []
        with torch.no_grad():
            for start in range(0, len(examples), self.options.batch_size):
                scores = self._label_logprobs(examples[start : start + self.options.batch_size])
                out += scores.softmax(-1).tolist()
        return out

    def embed(self, examples: list[Example]) -> list[list[float]]:
        """The final hidden state at the prompt's last token, the one the
        verbalizer's next-token scores are read from: ``[n, hidden_size]``."""
        import torch

        self._load()
        out: list[list[float]] = []
        with torch.no_grad():
            for start in range(0, len(examples), self.options.batch_size):
                ids = self._prompt_ids(examples[start : start + self.options.batch_size])
                last = [[len(row) - 1] for row in ids]
                out += self._hidden_at(ids, last)[:, 0, :].float().tolist()
        return out

    def num_parameters(self) -> int:
        self._load()
        return sum(p.numel() for p in self.model.parameters())

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    # --- persistence ----------------------------------------------------------
    def save_state(self, path: Path) -> None:
        state = {
            "verbalizers": self.verbalizers,
            "template": self.template,
            "description": self.description,
        }
        (path / "teacher.json").write_text(json.dumps(state, indent=2))
        if hasattr(self.model, "peft_config"):
            self.model.save_pretrained(path / "prompt")

    def load_state(self, path: Path) -> None:
        from peft import PeftModel

        state = json.loads((path / "teacher.json").read_text())
        self.verbalizers = state["verbalizers"]
        self.template = state["template"]
        self.description = state["description"]
        self._load()
        if (path / "prompt").is_dir():
            self.model = PeftModel.from_pretrained(self.model, path / "prompt")
            self.model.eval()
