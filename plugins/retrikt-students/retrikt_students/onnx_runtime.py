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
from retrikt_students.learned_retrieval import LearnedKeys, StudentSpaceRetriever
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
        self.learned_keys: LearnedKeys | None = None
        self.retrieval_k = int(state.get("retrieval_k", 0))
        if self.retrieval_k:
            if "query_output" not in self.meta:
                raise FileNotFoundError(
                    f"{path / 'onnx.json'}: the export has no query output, and the student "
                    "retrieves in its own space; export it again"
                )
            outputs = [o.name for o in self.session.get_outputs()]
            width = self.session.get_outputs()[outputs.index(self.meta["query_output"])].shape[1]
            self.learned_keys = LearnedKeys.load(path, int(width), self.num_labels)

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

    def _run(self, output: str, examples: list[Example], width: int) -> np.ndarray:
        out = [
            self.session.run(
                [output],
                {self.input_name: padded_ids(examples[i : i + BATCH], self.vocab, self.max_length)},
            )[0]
            for i in range(0, len(examples), BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, width), np.float32)

    def own_proba(self, examples: list[Example]) -> np.ndarray:
        """``[n, C]`` the student's own distribution (no retrieval)."""
        return self._run(self.meta["output"], examples, self.num_labels)

    def _encode_array(self, examples: list[Example]) -> np.ndarray:
        """``[n, d]`` the query of each input (learned retrieval)."""
        width = self.learned_keys.keys.shape[1] if self.learned_keys else 0
        return self._run(self.meta["query_output"], examples, width)

    def own_retriever(self) -> StudentSpaceRetriever | None:
        if self.learned_keys is None:
            return None
        return StudentSpaceRetriever(self.learned_keys, self._encode_array, self.retrieval_k)

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
