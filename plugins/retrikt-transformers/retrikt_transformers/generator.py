"""The LLM knowledge generator: a frozen causal LM with one trainable soft
prompt per label (peft prompt tuning, one adapter per label), tuned with the
language-model loss on that label's k-shot examples, so that asking for
label L yields in-domain text of label L."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retrikt_core.api import (
    DEVICE_HELP,
    DTYPE_HELP,
    Example,
    Knowledge,
    KnowledgeGenerator,
    Task,
    check_device,
    option,
    placement,
    track,
)
from retrikt_transformers import formats
from retrikt_transformers.models import SMOLLM2, load_causal_lm


@dataclass
class LLMGeneratorOptions:
    model: str = option(SMOLLM2, "smollm2-135m-instruct (offline), a hub name, or a folder")
    virtual_tokens: int = option(16, "soft-prompt length per label", minimum=1)
    epochs: int = option(20, "passes over each label's k-shot examples", minimum=0)
    lr: float = option(0.03, "Adam learning rate for the soft prompts", minimum=0.0)
    batch_size: int = option(8, "examples per tuning step", minimum=1)
    init_text: str = option("Write an example.", "text whose embeddings initialise prompts")
    max_length: int = option(160, "tokens of a training example kept", minimum=1)
    temperature: float = option(1.0, "sampling temperature", minimum=1e-6)
    top_p: float = option(0.95, "nucleus sampling threshold", minimum=1e-6, maximum=1.0)
    max_new_tokens: int = option(48, "longest sample, in tokens", minimum=1)
    min_new_tokens: int = option(0, "shortest sample (benchmarks fix lengths with it)", minimum=0)
    repetition_penalty: float = option(
        1.1, "penalty on repeated tokens while sampling", minimum=1e-6
    )
    gen_batch_size: int = option(16, "samples drawn per generate() call", minimum=1)
    device: str = option("auto", DEVICE_HELP)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = option("auto", DTYPE_HELP)

    def __post_init__(self) -> None:
        check_device("device", self.device)


def adapter_name(label: int) -> str:
    return f"label_{label}"


class LLMGenerator(KnowledgeGenerator):
    """A frozen causal LM with label-conditioned soft prompts (peft prompt tuning)."""

    name = "llm"
    Options = LLMGeneratorOptions
    conditional = True
    seeded_chunks = True

    def __init__(self, options: LLMGeneratorOptions | None = None) -> None:
        super().__init__(options)
        self.model = None  # the PeftModel with one adapter per label
        self.tokenizer = None
        self.num_labels = 0
        self.field_names: tuple[str, ...] = ("sentence",)
        self.device = "cpu"
        self.task_name = ""

    # --- prompts ----------------------------------------------------------------
    def _attach_prompts(self) -> None:
        import torch
        from peft import PromptTuningConfig, TaskType, get_peft_model

        base, self.tokenizer = self._base()
        n = self.options.virtual_tokens
        init = self.tokenizer(self.options.init_text, add_special_tokens=False)["input_ids"]
        init_ids = torch.tensor([init[i % len(init)] for i in range(n)], device=self.device)
        with torch.no_grad():
            init_embeds = base.get_input_embeddings()(init_ids)
        for label in range(self.num_labels):
            config = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=n)
            if self.model is None:
                self.model = get_peft_model(base, config, adapter_name=adapter_name(label))
            else:
                self.model.add_adapter(adapter_name(label), config)
            with torch.no_grad():
                self.prompt_weight(label).copy_(init_embeds)

    def _base(self):
        """The frozen base LM and its tokenizer, on this generator's device."""
        self.device, dtype = placement(self.options.device, self.options.dtype)
        return load_causal_lm(self.options.model, self.device, dtype)

    def prompt_weight(self, label: int):
        """The trainable ``[virtual_tokens, hidden]`` prompt of ``label``."""
        return self.model.prompt_encoder[adapter_name(label)].embedding.weight

    def use(self, label: int) -> None:
        self.model.set_adapter(adapter_name(label))

    def cue_ids(self) -> list[int]:
        return self.tokenizer(formats.cue(self.field_names), add_special_tokens=False)["input_ids"]

    def prefix_embeddings(self, label: int, n: int, prompt=None):
        """``[n, virtual_tokens + cue, hidden]``: the soft prompt of ``label`` (or
        ``prompt``, say a frozen reference copy) and the cue, as input
        embeddings of the base model. Sampling and RL scoring both start here."""
        import torch

        base = self.model.get_base_model()
        prompt = self.prompt_weight(label) if prompt is None else prompt
        cue_ids = torch.tensor([self.cue_ids()], device=self.device).expand(n, -1)
        cue = base.get_input_embeddings()(cue_ids)
        return torch.cat([prompt.unsqueeze(0).expand(n, -1, -1).to(cue.dtype), cue], dim=1)

    # --- tuning -----------------------------------------------------------------
    def _lm_batch(self, examples: list[Example]):
        """Cue + written example + EOS, right-padded; labels -100 on the cue and pads."""
        import torch

        cue = self.cue_ids()
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        rows, targets = [], []
        for example in examples:
            body = self.tokenizer(
                formats.write(example, self.field_names), add_special_tokens=False
            )["input_ids"]
            body = body[: self.options.max_length] + [eos]
            rows.append(cue + body)
            targets.append([-100] * len(cue) + body)
        width = max(map(len, rows))
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
        return input_ids.to(self.device), mask.to(self.device), labels.to(self.device)

    def lm_loss(self, label: int, examples: list[Example]):
        """Mean token LM loss of ``examples`` under ``label``'s prompt."""
        self.use(label)
        input_ids, mask, labels = self._lm_batch(examples)
        return self.model(input_ids=input_ids, attention_mask=mask, labels=labels).loss

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        import torch

        self.num_labels = task.num_labels
        self.field_names = tuple(task.field_names)
        self.task_name = task.name
        torch.manual_seed(seed)
        self._attach_prompts()
        stats: dict[str, Any] = {"model": self.options.model}
        generator = torch.Generator().manual_seed(seed)
        bs = self.options.batch_size
        for label in range(self.num_labels):
            mine = [e for e in examples if e.label == label]
            if not mine:
                raise ValueError(f"generator: no k-shot examples of label {label}")
            self.use(label)
            optimizer = torch.optim.Adam([self.prompt_weight(label)], lr=self.options.lr)
            losses = []
            for _ in track(range(self.options.epochs), f"generator: tuning label {label}"):
                order = torch.randperm(len(mine), generator=generator).tolist()
                total = 0.0
                for start in range(0, len(order), bs):
                    batch = [mine[i] for i in order[start : start + bs]]
                    loss = self.lm_loss(label, batch)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(batch)
                losses.append(total / len(mine))
            if losses:
                stats[f"label_{label}_loss"] = [round(losses[0], 4), round(losses[-1], 4)]
        self.model.eval()
        return stats

    # --- sampling ---------------------------------------------------------------
    def sample_ids(self, label: int, n: int, *, seed: int, greedy: bool = False) -> list[list[int]]:
        """``n`` sampled continuations (token ids, after the cue, EOS stripped);
        ``greedy`` takes the likeliest token at each step instead (engines are
        compared on it)."""
        import torch

        self.use(label)
        o = self.options
        base = self.model.get_base_model()
        torch.manual_seed(seed)
        out: list[list[int]] = []
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        batches = range(0, n, o.gen_batch_size)
        with torch.no_grad():
            for start in track(batches, f"generator: sampling label {label}", total=len(batches)):
                size = min(o.gen_batch_size, n - start)
                # The soft prompt and the cue as embeddings, sampled by the base
                # model: PeftModel.generate (peft 0.21) recomputed the whole
                # sequence at every step, about 4x the CPU time of this cached
                # path; the distributions are the same (test).
                embeds = self.prefix_embeddings(label, size)
                generated = base.generate(
                    inputs_embeds=embeds,
                    attention_mask=torch.ones(
                        size, embeds.shape[1], dtype=torch.long, device=self.device
                    ),
                    do_sample=not greedy,
                    temperature=None if greedy else o.temperature,
                    top_p=None if greedy else o.top_p,
                    max_new_tokens=o.max_new_tokens,
                    min_new_tokens=o.min_new_tokens,
                    repetition_penalty=o.repetition_penalty,
                    pad_token_id=pad,
                    use_cache=True,
                )
                for row in generated:  # only new tokens: the input was embeddings
                    ids = row.tolist()
                    if eos in ids:
                        ids = ids[: ids.index(eos)]
                    out.append([t for t in ids if t != pad])
        return out

    def decode(self, label: int, ids: list[int], seed: int, index: int) -> Knowledge:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        parsed = formats.read(text, self.field_names)
        first, pair = parsed if parsed is not None else ("", None)
        return Knowledge(
            text=first,
            text_pair=pair,
            requested_label=label,
            source="generator",
            provenance={
                "generator": self.name,
                "model": self.options.model,
                "seed": seed,
                "index": index,
                "raw": text[:400],
            },
        )

    def generate(self, label: int | None, n: int, *, seed: int) -> list[Knowledge]:
        if label is None:
            raise ValueError("the llm generator is conditional: ask for a label")
        self._ensure_loaded()
        return [
            self.decode(label, ids, seed, i)
            for i, ids in enumerate(self.sample_ids(label, n, seed=seed))
        ]

    def policy(self):
        from retrikt_transformers.policy import SoftPromptPolicy

        self._ensure_loaded()
        return SoftPromptPolicy(self)

    def num_parameters(self) -> int:
        self._ensure_loaded()
        return sum(p.numel() for p in self.model.parameters())

    # --- persistence ------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self.model is None:
            raise RuntimeError("generator used before fit() or from_pretrained()")

    def save_state(self, path: Path) -> None:
        state = {
            "num_labels": self.num_labels,
            "field_names": list(self.field_names),
            "task_name": self.task_name,
        }
        (path / "generator.json").write_text(json.dumps(state, indent=2))
        # peft writes each adapter (a soft prompt) to its own folder.
        self.model.save_pretrained(
            path / "prompts", selected_adapters=[adapter_name(i) for i in range(self.num_labels)]
        )

    def load_state(self, path: Path) -> None:
        from peft import PeftModel

        state = json.loads((path / "generator.json").read_text())
        self.num_labels = state["num_labels"]
        self.field_names = tuple(state["field_names"])
        self.task_name = state["task_name"]
        base, self.tokenizer = self._base()
        folder = path / "prompts"
        # The first adapter is saved at the top level, the others in subfolders.
        first = adapter_name(0)
        self.model = PeftModel.from_pretrained(
            base, _adapter_dir(folder, first), adapter_name=first
        )
        for label in range(1, self.num_labels):
            name = adapter_name(label)
            self.model.load_adapter(_adapter_dir(folder, name), adapter_name=name)
        self.model.eval()


def _adapter_dir(folder: Path, name: str) -> Path:
    return folder / name if (folder / name).is_dir() else folder
