"""Learned retrieval: a student that retrieves in its own representation
space. It encodes the store's entries as keys and each input as a query, and
is trained so that its similarities follow the teacher's: a relational loss
between the similarity distributions of the student's and the teacher's
representations over each batch (as in ReAugKD, Zhang et al., ACL 2023).
After training the keys are encoded once more and saved beside the weights,
so a saved student, a bundle and its ONNX export retrieve without the run's
store encoder."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import (
    Example,
    Neighbors,
    Retriever,
    StoreFileError,
    atomic_write_bytes,
    inner_product_top_k,
    jsonl_lines,
    option,
)

KEYS_FILE = "retrieval_keys.npy"
ENTRIES_FILE = "retrieval_entries.jsonl"


class LearnedKeys:
    """The store's entries in a student's space: unit-length float32 keys
    ``[N, d]``, each entry's id and teacher label distribution."""

    def __init__(self, keys: np.ndarray, ids: list[str], label_probs: list[list[float]]) -> None:
        if len(keys) != len(ids) or len(ids) != len(label_probs):
            raise ValueError(
                f"learned keys: {len(keys)} keys, {len(ids)} ids, {len(label_probs)} label rows"
            )
        self.keys = np.ascontiguousarray(keys, dtype=np.float32)
        self.ids = list(ids)
        self.label_probs = [list(map(float, row)) for row in label_probs]
        self._position = {entry_id: i for i, entry_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, query_ids: list[str], k: int) -> Neighbors:
        """The ``k`` entries nearest each query (inner product of unit
        vectors: cosine), best first; a query's own entry is left out."""
        positions, scores = inner_product_top_k(np.asarray(queries, np.float32), self.keys, k + 1)
        ids, out_scores, probs = [], [], []
        for query_id, row_positions, row_scores in zip(query_ids, positions, scores, strict=True):
            own = self._position.get(query_id, -1) if query_id else -1
            pairs = zip(row_positions, row_scores, strict=True)
            kept = [(int(p), float(s)) for p, s in pairs if p != own][:k]
            ids.append([self.ids[p] for p, _ in kept])
            out_scores.append([s for _, s in kept])
            probs.append([self.label_probs[p] for p, _ in kept])
        return Neighbors(ids, out_scores, probs)

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.save(buffer, self.keys)
        atomic_write_bytes(path / KEYS_FILE, buffer.getvalue())
        lines = (
            json.dumps({"id": entry_id, "teacher_probs": probs}) + "\n"
            for entry_id, probs in zip(self.ids, self.label_probs, strict=True)
        )
        atomic_write_bytes(path / ENTRIES_FILE, "".join(lines).encode("utf-8"))

    @classmethod
    def load(cls, path: Path, width: int, num_labels: int) -> LearnedKeys:
        """Keys saved by :meth:`save`, checked against the student's width
        and label count: a damaged or foreign file is refused by name."""
        try:
            keys = np.load(path / KEYS_FILE)
        except (OSError, ValueError) as exc:
            raise StoreFileError(f"{path / KEYS_FILE}: not a numpy array: {exc}") from None
        if keys.ndim != 2 or keys.shape[1] != width or not np.isfinite(keys).all():
            raise StoreFileError(
                f"{path / KEYS_FILE}: expected finite keys of shape (n, {width}), got {keys.shape}"
            )
        ids, probs = [], []
        lines = jsonl_lines((path / ENTRIES_FILE).read_text(encoding="utf-8"))
        for number, line in lines:
            try:
                row = json.loads(line)
                entry_id, row_probs = str(row["id"]), [float(p) for p in row["teacher_probs"]]
            except (ValueError, KeyError, TypeError) as exc:
                where = f"{path / ENTRIES_FILE}:{number}"
                raise StoreFileError(f"{where}: not an entry: {exc}") from None
            if len(row_probs) != num_labels:
                raise StoreFileError(
                    f"{path / ENTRIES_FILE}:{number}: {len(row_probs)} label probabilities, "
                    f"the student has {num_labels} labels"
                )
            ids.append(entry_id)
            probs.append(row_probs)
        if len(ids) != len(keys):
            raise StoreFileError(
                f"{path / ENTRIES_FILE}: {len(ids)} entries for {len(keys)} keys in {KEYS_FILE}"
            )
        return cls(keys, ids, probs)


@dataclass
class StudentSpaceOptions:
    k: int = option(16, "neighbours retrieved per query", minimum=1)


class StudentSpaceRetriever(Retriever):
    """Exact search over a student's own keys with its own query encoder.
    It binds no store: the keys are the student's, and the query encoder is
    the student itself, so it adds no parameters to the student's count."""

    name = "student-space"
    Options = StudentSpaceOptions

    def __init__(
        self, keys: LearnedKeys, encode: Callable[[list[Example]], np.ndarray], k: int
    ) -> None:
        super().__init__(StudentSpaceOptions(k=k))
        self.keys = keys
        self.encode = encode
        self.stores = []

    def retrieve(self, examples: list[Example], k: int | None = None) -> Neighbors:
        k = self.k if k is None else k
        return self.keys.search(self.encode(examples), [e.id for e in examples], k)


def relational_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """Mean over a batch of KL(P_teacher || P_student), where row i of P is
    the softmax over the other rows j of ``cos(i, j) / temperature``; both
    inputs are unit rows ``[n, d]`` (widths may differ). 0 for n < 3: a row
    needs two others for a distribution to match."""
    import torch

    n = len(student)
    if n < 3:
        return student.sum() * 0.0
    self_pairs = torch.eye(n, dtype=torch.bool, device=student.device)
    s_logits = (student @ student.T / temperature).masked_fill(self_pairs, -1e9)
    t_logits = (teacher @ teacher.T / temperature).masked_fill(self_pairs, -1e9)
    log_s = s_logits.log_softmax(-1)
    log_t = t_logits.log_softmax(-1)
    return (log_t.exp() * (log_t - log_s)).masked_fill(self_pairs, 0.0).sum(-1).mean()


def space_neighbours(queries: Any, keys: Any, label_probs: Any, k: int, own: Any):
    """Training-time neighbours in the student's space: ``(scores [n, k],
    label_probs [n, k, C], valid [n, k])`` for unit ``queries`` (with their
    gradient) over fixed ``keys``; ``own`` is each query's own key position
    (-1 for none), which is never its neighbour."""
    import torch

    scores = queries @ keys.T
    rows = torch.nonzero(own >= 0).squeeze(1)
    scores[rows, own[rows]] = float("-inf")
    k = min(k, keys.shape[0] - 1) if len(rows) else min(k, keys.shape[0])
    best = scores.topk(max(k, 1), dim=-1)
    valid = torch.isfinite(best.values)
    return best.values.masked_fill(~valid, 0.0), label_probs[best.indices], valid
