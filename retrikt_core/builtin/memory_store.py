"""An exact in-memory dense store: numpy inner product over hashed n-gram keys,
saved as the keys' non-zeros."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrikt_core.api import (
    MANIFEST,
    EntryTable,
    Example,
    Knowledge,
    KnowledgeStore,
    Neighbors,
    StoreFileError,
    atomic_write_bytes,
    check_listed,
    check_matches,
    checked_keys,
    dump_jsonl,
    empty_neighbors,
    hashed_features,
    inner_product_top_k,
    jsonl_lines,
    keys_from_nonzero,
    load_table,
    nonzero_keys,
    option,
    query_blocks,
    read_manifest,
    write_manifest,
)

__all__ = ["MemoryStore", "MemoryStoreOptions", "StoreFileError"]


@dataclass
class MemoryStoreOptions:
    dim: int = option(2048, "hashed key dimension", minimum=1)
    ngram: int = option(2, "longest n-gram in the keys", minimum=1)


class MemoryStore(KnowledgeStore):
    """Exact cosine search over hashed n-gram keys, all in memory (numpy)."""

    name = "memory"
    Options = MemoryStoreOptions
    dense_keys = True
    FILES = ("keys.npy", "entries.jsonl")
    #: Stores saved before keys were saved as their non-zeros: dense keys.
    DENSE_FILES = ("vectors.npy", "entries.jsonl")

    def __init__(self, options: MemoryStoreOptions | None = None) -> None:
        super().__init__(options)
        self._table = EntryTable(self.name)
        self._vectors = np.zeros((0, self.options.dim), dtype=np.float32)

    def encode(self, examples: list[Example]) -> np.ndarray:
        return hashed_features(examples, self.options.dim, self.options.ngram)

    def add(self, entries: list[Knowledge]) -> None:
        self.add_encoded(entries, self.encode([e.example for e in entries]))

    def add_encoded(self, entries: list[Knowledge], keys: np.ndarray) -> None:
        self._table.check_new(entries)
        keys = checked_keys(keys, len(entries), self.options.dim, self.name)
        if entries:
            self._vectors = np.concatenate([self._vectors, keys])
        self._table.add(entries)

    def __len__(self) -> int:
        return len(self._table)

    def entries(self) -> list[Knowledge]:
        return self._table.entries()

    def search(self, queries: list[Example], k: int) -> Neighbors:
        if not len(self._table) or k <= 0:
            return empty_neighbors(len(queries))
        positions, scores = [], []
        # Queries are encoded and scored a block at a time: memory stays
        # bounded however many queries and entries there are.
        for block in query_blocks(len(queries), len(self._table)):
            found = inner_product_top_k(
                self.encode(queries[block.start : block.stop]), self._vectors, k + 1
            )  # one spare: a query's own entry is dropped
            positions.append(found[0])
            scores.append(found[1])
        return self._table.neighbors(queries, np.concatenate(positions), np.concatenate(scores), k)

    def encoder_name(self) -> str:
        return f"hashed-ngrams(n={self.options.ngram})"

    def save_state(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.save(buffer, nonzero_keys(self._vectors))
        atomic_write_bytes(path / "keys.npy", buffer.getvalue())
        atomic_write_bytes(path / "entries.jsonl", dump_jsonl(self.entries()).encode("utf-8"))
        write_manifest(
            path,
            self.FILES,
            count=len(self._table),
            dim=self.options.dim,
            encoder=self.encoder_name(),
        )
        # A store read from dense keys and saved in place (``store add`` on
        # an older bundle) leaves no unlisted copy of them behind.
        (path / "vectors.npy").unlink(missing_ok=True)

    def load_state(self, path: Path) -> None:
        manifest = read_manifest(path, keys=("count", "dim", "encoder"))
        dense = "vectors.npy" in manifest["sha256"]
        check_listed(path, manifest, self.DENSE_FILES if dense else self.FILES)
        # component.json is not checksummed: options from another store show up here.
        check_matches(path / MANIFEST, "dim", manifest["dim"], self.options.dim)
        check_matches(path / MANIFEST, "encoder", manifest["encoder"], self.encoder_name())
        shape = (manifest["count"], manifest["dim"])
        name = "vectors.npy" if dense else "keys.npy"
        try:
            saved = np.load(path / name)
        except ValueError as exc:
            raise StoreFileError(f"{path / name}: not a numpy array: {exc}") from None
        if dense:
            check_matches(path / name, "shape", saved.shape, shape)
            vectors = saved
        else:
            try:
                vectors = keys_from_nonzero(saved, shape, str(path / name))
            except ValueError as exc:
                raise StoreFileError(str(exc)) from None
        lines = jsonl_lines((path / "entries.jsonl").read_text(encoding="utf-8"))
        entries = [Knowledge.from_dict(json.loads(line)) for _, line in lines]
        check_matches(path / "entries.jsonl", "entry count", len(entries), manifest["count"])
        self._table = load_table(self.name, path / "entries.jsonl", entries)
        self._vectors = vectors
