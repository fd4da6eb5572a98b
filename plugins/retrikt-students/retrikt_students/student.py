"""``tiny-transformer``: a small transformer student (about 1% of SmolLM2-135M
at the defaults) with a trainable soft prompt, trained retrieval-aware as in
RetriKT: its distribution is mixed with the teacher labels of retrieved
neighbours, p = lam * p_knn + (1 - lam) * p_student, with lam and the
neighbour temperature learned together with the student."""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrikt_core.config import option
from retrikt_core.interfaces import Retriever, Student, Task
from retrikt_core.interpolation import interpolate
from retrikt_core.progress import track
from retrikt_core.records import Example, Knowledge, Neighbors
from retrikt_students.vocab import Vocab


@dataclass
class TransformerStudentOptions:
    vocab_size: int = option(8000, "words kept from the k-shot set and the knowledge")
    d_model: int = option(128, "hidden width")
    layers: int = option(2, "transformer layers")
    heads: int = option(4, "attention heads")
    ff: int = option(256, "feed-forward width")
    max_length: int = option(64, "word tokens per input")
    prompt_tokens: int = option(4, "soft-prompt vectors prepended to every input")
    dropout: float = option(0.1, "dropout in the encoder")
    epochs: int = option(8, "passes over the training data")
    batch_size: int = option(32, "examples per step")
    lr: float = option(0.001, "AdamW learning rate")
    kd_temperature: float = option(1.0, "temperature applied to teacher distributions")
    kshot_weight: float = option(4.0, "weight of a k-shot example relative to a store entry")
    student_loss_weight: float = option(
        0.5, "weight of the student-alone loss beside the interpolated one (retrieval runs)"
    )
    lam: float = option(-1.0, "interpolation weight in [0, 1]; < 0 = learned")
    knn_temperature: float = option(-1.0, "neighbour softmax temperature; <= 0 = learned")


def _soft_targets(probs, temperature: float):
    import torch

    logp = torch.log(torch.as_tensor(probs, dtype=torch.float32).clamp(min=1e-9)) / temperature
    return logp.softmax(-1)


def _neighbor_tensors(neighbors: Neighbors, num_labels: int):
    """``(scores [n, k], label_probs [n, k, C], valid [n, k])`` padded to the longest row."""
    import torch

    k = max((len(r) for r in neighbors.ids), default=0)
    n = len(neighbors)
    scores = torch.zeros(n, max(k, 1))
    probs = torch.full((n, max(k, 1), num_labels), 1.0 / num_labels)
    valid = torch.zeros(n, max(k, 1), dtype=torch.bool)
    for i in range(n):
        m = len(neighbors.ids[i])
        if m:
            scores[i, :m] = torch.tensor(neighbors.scores[i])
            probs[i, :m] = torch.tensor(neighbors.label_probs[i], dtype=torch.float32)
            valid[i, :m] = True
    return scores, probs, valid


class TransformerStudent(Student):
    """A tiny transformer with a soft prompt that interpolates with retrieved labels."""

    name = "tiny-transformer"
    Options = TransformerStudentOptions

    def __init__(self, options: TransformerStudentOptions | None = None) -> None:
        super().__init__(options)
        self.model = None
        self.vocab: Vocab | None = None
        self.num_labels = 0
        self.lam = 0.0
        self.knn_temperature = 1.0

    def _build(self, vocab: Vocab, num_labels: int) -> None:
        from retrikt_students.model import TinyEncoder

        o = self.options
        self.vocab, self.num_labels = vocab, num_labels
        self.model = TinyEncoder(
            len(vocab),
            num_labels,
            o.d_model,
            o.layers,
            o.heads,
            o.ff,
            o.max_length,
            o.prompt_tokens,
            o.dropout,
        )

    def _ids(self, examples: list[Example]):
        import torch

        rows = [self.vocab.encode(e, self.options.max_length) or [1] for e in examples]
        width = max(map(len, rows))
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])

    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
    ) -> dict[str, Any]:
        import torch

        o = self.options
        torch.manual_seed(seed)
        rng = random.Random(seed)
        inputs = list(examples) + [k.example for k in knowledge]
        self._build(Vocab.build(inputs, o.vocab_size), task.num_labels)
        targets = torch.cat(
            [
                torch.nn.functional.one_hot(
                    torch.tensor([e.label for e in examples]), task.num_labels
                ).float(),
                _soft_targets([k.teacher_probs for k in knowledge], o.kd_temperature)
                if knowledge
                else torch.zeros(0, task.num_labels),
            ]
        )
        weights = torch.tensor([o.kshot_weight] * len(examples) + [1.0] * len(knowledge))
        ids = self._ids(inputs)
        params = list(self.model.parameters())
        neighbor_data = None
        if retriever is not None:
            # Neighbours are fixed (the store does not change): retrieve once.
            # A store entry's own id excludes it from its neighbours.
            neighbor_data = _neighbor_tensors(retriever.retrieve(inputs), task.num_labels)
            lam0 = 0.5 if o.lam < 0 else min(max(o.lam, 1e-4), 1 - 1e-4)
            self._lam_logit = torch.nn.Parameter(torch.tensor(math.log(lam0 / (1 - lam0))))
            temp0 = 0.1 if o.knn_temperature <= 0 else o.knn_temperature
            self._log_temp = torch.nn.Parameter(torch.tensor(math.log(temp0)))
            if o.lam < 0:
                params.append(self._lam_logit)
            if o.knn_temperature <= 0:
                params.append(self._log_temp)
        optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=0.01)
        order = list(range(len(inputs)))
        losses = []
        self.model.train()
        for _ in track(range(o.epochs), f"student: {self.name}"):
            rng.shuffle(order)
            total = 0.0
            for start in range(0, len(order), o.batch_size):
                idx = torch.tensor(order[start : start + o.batch_size])
                batch_ids = ids[idx]
                batch_ids = batch_ids[:, : max(1, int((batch_ids != 0).sum(1).max()))]
                log_student = self.model(batch_ids).log_softmax(-1)
                loss_rows = -(targets[idx] * log_student).sum(-1)
                if neighbor_data is not None:
                    scores, probs, valid = (t[idx] for t in neighbor_data)
                    knn = self._knn(scores, probs, valid)
                    lam = torch.sigmoid(self._lam_logit)
                    mixed = lam * knn + (1 - lam) * log_student.exp()
                    has = valid.any(1, keepdim=True)
                    mixed = torch.where(has, mixed, log_student.exp())
                    mixed_rows = -(targets[idx] * mixed.clamp(min=1e-9).log()).sum(-1)
                    loss_rows = mixed_rows + o.student_loss_weight * loss_rows
                loss = (weights[idx] * loss_rows).sum() / weights[idx].sum()
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                total += loss.item() * len(idx)
            losses.append(total / len(order))
        self.model.eval()
        stats: dict[str, Any] = {
            "params": self.num_parameters(),
            "vocab": len(self.vocab),
            "first_loss": losses[0],
            "last_loss": losses[-1],
        }
        if neighbor_data is not None:
            self.lam = float(torch.sigmoid(self._lam_logit.detach()))
            self.knn_temperature = float(self._log_temp.detach().exp())
            stats.update(lam=self.lam, knn_temperature=self.knn_temperature)
        return stats

    def _knn(self, scores, probs, valid):
        import torch

        logits = (scores / self._log_temp.exp()).masked_fill(~valid, -1e9)
        weights = logits.softmax(-1) * valid
        weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-9)
        return torch.einsum("nk,nkc->nc", weights, probs)

    def own_proba(self, examples: list[Example]):
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(examples), 256):
                out.append(self.model(self._ids(examples[start : start + 256])).softmax(-1))
        return torch.cat(out).numpy() if out else torch.zeros(0, self.num_labels).numpy()

    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        own = self.own_proba(examples)
        if neighbors is None:
            return own.tolist()
        return interpolate(own, neighbors, self.lam, self.knn_temperature).tolist()

    def encode(self, examples: list[Example]) -> list[list[float]]:
        import torch

        with torch.no_grad():
            pooled = self.model.pooled(self._ids(examples))
        return torch.nn.functional.normalize(pooled, dim=-1).tolist()

    def num_parameters(self) -> int:
        """Encoder, embeddings, soft prompt and head (the store's hashed-n-gram
        query encoder has no parameters; a neural store encoder would count)."""
        return sum(p.numel() for p in self.model.parameters()) if self.model else 0

    def save_state(self, path: Path) -> None:
        from safetensors.torch import save_file

        save_file(self.model.state_dict(), str(path / "model.safetensors"))
        (path / "vocab.json").write_text(json.dumps(self.vocab.words))
        (path / "student.json").write_text(
            json.dumps(
                {
                    "num_labels": self.num_labels,
                    "lam": self.lam,
                    "knn_temperature": self.knn_temperature,
                    "options": asdict(self.options),
                }
            )
        )

    def load_state(self, path: Path) -> None:
        from safetensors.torch import load_file

        state = json.loads((path / "student.json").read_text())
        words = json.loads((path / "vocab.json").read_text())
        self._build(Vocab(words), state["num_labels"])
        self.model.load_state_dict(load_file(str(path / "model.safetensors")))
        self.model.eval()
        self.lam, self.knn_temperature = state["lam"], state["knn_temperature"]

    def export_onnx(self, path: Path, quantize: str | None = None) -> dict[str, str]:
        """Soft prompt, encoder and head as ``model.onnx`` (probabilities from
        word ids), and ``model.int8.onnx`` with ``quantize="int8"``; needs the
        ``onnx`` extra. Retrieval and interpolation stay outside the graph."""
        from retrikt_students.onnx_export import export_student

        return export_student(self, Path(path), quantize)

    @classmethod
    def from_onnx(cls, path: Path, file: str) -> Student:
        """The ONNX export in ``path / file`` run with onnxruntime (no torch)."""
        from retrikt_students.onnx_runtime import OnnxTransformerStudent

        return OnnxTransformerStudent(Path(path), file)
