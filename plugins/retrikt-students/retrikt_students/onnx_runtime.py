"""The tiny transformer student run from its ONNX export with onnxruntime:
numpy in, numpy out, no torch imported. Tokenisation is the student's own
tokeniser, saved beside it; retrieval and the kNN interpolation are core's, so the
predictions match :class:`~retrikt_students.tiny_transformer.TransformerStudent`'s up
to float rounding (and int8 rounding for a quantised model)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import Example, Knowledge, Neighbors, Retriever, Student, Task, interpolate
from retrikt_students.onnx_export import read_meta
from retrikt_students.vocab import load_tokens, padded_ids, saved_tokens_kind

BATCH = 256  # rows per onnxruntime call, as the PyTorch student's own_proba


class OnnxTransformerStudent(Student):
    """Inference-only tiny-transformer: its ONNX export run with onnxruntime."""

    name = "tiny-transformer"

    def __init__(self, path: Path, file: str, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        path = Path(path)
        state = json.loads((path / "student.json").read_text())
        self.meta = read_meta(path)
        self.file = file
        self.num_labels = int(state["num_labels"])
        self.lam = float(state["lam"])
        self.knn_temperature = float(state["knn_temperature"])
        self.max_length = int(self.meta["max_length"])
        self.vocab = load_tokens(path, saved_tokens_kind(state))
        session_options = ort.SessionOptions()
        threads = threads or int(os.environ.get("RETRIKT_ONNX_THREADS", "0"))
        if threads:
            session_options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(path / file), session_options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.meta["input"]

    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
    ) -> dict[str, Any]:
        raise NotImplementedError("an ONNX student is inference only; train the PyTorch one")

    def own_proba(self, examples: list[Example]) -> np.ndarray:
        """``[n, C]`` the student's own distribution (no retrieval)."""
        out = [
            self.session.run(
                None,
                {self.input_name: padded_ids(examples[i : i + BATCH], self.vocab, self.max_length)},
            )[0]
            for i in range(0, len(examples), BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.num_labels), np.float32)

    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        own = self.own_proba(examples)
        if neighbors is None:
            return own.tolist()
        return interpolate(own, neighbors, self.lam, self.knn_temperature).tolist()

    def num_parameters(self) -> int:
        """The exported model's parameter count (recorded at export: the same
        encoder, soft prompt and head as the PyTorch student)."""
        return int(self.meta["params"])
