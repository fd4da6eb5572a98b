"""An exact in-memory dense store (numpy inner product over hashed n-gram keys)
and the ``knn`` retriever that queries any bound stores."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrikt_core.atomic import atomic_write_bytes, atomic_write_json
from retrikt_core.builtin.features import hashed_features
from retrikt_core.config import option
from retrikt_core.interfaces import KnowledgeStore, Retriever
from retrikt_core.records import Example, Knowledge, Neighbors, dump_jsonl


class StoreFileError(ValueError):
    """A saved store whose files are missing, truncated or do not match."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest finite scores of each row, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


@dataclass
class MemoryStoreOptions:
    dim: int = option(2048, "hashed key dimension")
    ngram: int = option(2, "longest n-gram in the keys")


class MemoryStore(KnowledgeStore):
    """Exact cosine search over hashed n-gram keys, all in memory (numpy)."""

    name = "memory"
    Options = MemoryStoreOptions
    FILES = ("vectors.npy", "entries.jsonl")

    def __init__(self, options: MemoryStoreOptions | None = None) -> None:
        super().__init__(options)
        self._entries: list[Knowledge] = []
        self._index: dict[str, int] = {}
        self._vectors = np.zeros((0, self.options.dim), dtype=np.float32)

    def encode(self, examples: list[Example]) -> np.ndarray:
        return hashed_features(examples, self.options.dim, self.options.ngram)

    def add(self, entries: list[Knowledge]) -> None:
        for entry in entries:
            if entry.id in self._index:
                raise ValueError(f"store {self.name!r}: duplicate entry id {entry.id!r}")
            self._index[entry.id] = len(self._entries)
            self._entries.append(entry)
        if entries:
            keys = self.encode([e.example for e in entries])
            self._vectors = np.concatenate([self._vectors, keys])

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Knowledge]:
        return list(self._entries)

    def search(self, queries: list[Example], k: int) -> Neighbors:
        if not self._entries or k <= 0:
            return Neighbors([[] for _ in queries], [[] for _ in queries], [[] for _ in queries])
        scores = self.encode(queries) @ self._vectors.T
        for row, query in enumerate(queries):
            own = self._index.get(query.id) if query.id else None
            if own is not None:
                scores[row, own] = -np.inf
        best = top_k(scores, k)
        ids, out_scores, probs = [], [], []
        for row in range(len(queries)):
            keep = [j for j in best[row] if np.isfinite(scores[row, j])]
            ids.append([self._entries[j].id for j in keep])
            out_scores.append([float(scores[row, j]) for j in keep])
            probs.append([list(self._entries[j].teacher_probs) for j in keep])
        return Neighbors(ids, out_scores, probs)

    def save_state(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.save(buffer, self._vectors)
        atomic_write_bytes(path / "vectors.npy", buffer.getvalue())
        atomic_write_bytes(path / "entries.jsonl", dump_jsonl(self._entries).encode("utf-8"))
        atomic_write_json(
            path / "store.json",
            {
                "count": len(self._entries),
                "dim": self.options.dim,
                "encoder": f"hashed-ngrams(n={self.options.ngram})",
                "sha256": {name: sha256_file(path / name) for name in self.FILES},
            },
        )

    def load_state(self, path: Path) -> None:
        manifest_path = path / "store.json"
        if not manifest_path.is_file():
            raise StoreFileError(f"{manifest_path}: missing; the store manifest is required")
        manifest = json.loads(manifest_path.read_text())
        for name in self.FILES:
            file = path / name
            if not file.is_file():
                raise StoreFileError(f"{file}: missing")
            if sha256_file(file) != manifest["sha256"][name]:
                raise StoreFileError(
                    f"{file}: checksum does not match store.json (truncated or modified)"
                )
        vectors = np.load(path / "vectors.npy")
        lines = (path / "entries.jsonl").read_text(encoding="utf-8").splitlines()
        entries = [Knowledge.from_dict(json.loads(line)) for line in lines if line]
        if vectors.shape != (manifest["count"], manifest["dim"]) or len(entries) != len(vectors):
            raise StoreFileError(
                f"{path}: vectors {vectors.shape} and {len(entries)} entries do not match "
                f"store.json (count={manifest['count']}, dim={manifest['dim']})"
            )
        self._vectors = vectors
        self._entries = entries
        self._index = {e.id: i for i, e in enumerate(entries)}


@dataclass
class KnnRetrieverOptions:
    k: int = option(16, "neighbours retrieved per query")


class KnnRetriever(Retriever):
    """The k best entries across the bound stores, by each store's own score."""

    name = "knn"
    Options = KnnRetrieverOptions

    def retrieve(self, examples: list[Example], k: int | None = None) -> Neighbors:
        k = self.k if k is None else k
        results = [store.search(examples, k) for store in self.stores]
        if len(results) == 1:
            return results[0]
        ids, scores, probs = [], [], []
        for q in range(len(examples)):
            merged = sorted(
                (
                    (r.scores[q][j], r.ids[q][j], r.label_probs[q][j])
                    for r in results
                    for j in range(len(r.ids[q]))
                ),
                key=lambda t: -t[0],
            )[:k]
            scores.append([m[0] for m in merged])
            ids.append([m[1] for m in merged])
            probs.append([m[2] for m in merged])
        return Neighbors(ids, scores, probs)
