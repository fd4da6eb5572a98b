"""The ``bm25`` knowledge store: BM25 (Okapi weights) over an entry's words,
text and text pair together, with bm25s (default) or rank-bm25.

Persisted as ``entries.parquet``, bm25s's index files under ``bm25s/`` (with
``library = "bm25s"``; rank-bm25 has no file format of its own, so its index
is rebuilt from the entries) and a checksummed ``store.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrikt_core.api import (
    ENTRIES,
    MANIFEST,
    ConfigError,
    EntryTable,
    Example,
    Knowledge,
    KnowledgeStore,
    Neighbors,
    StoreFileError,
    check_listed,
    check_matches,
    empty_neighbors,
    load_table,
    option,
    read_entries,
    read_manifest,
    tokenize,
    top_k,
    write_entries,
    write_manifest,
)

BM25S_FOLDER = "bm25s"
# What bm25s.BM25.save writes for an index without a corpus or BM25L/+ arrays.
BM25S_FILES = [
    f"{BM25S_FOLDER}/{name}"
    for name in (
        "data.csc.index.npy",
        "indices.csc.index.npy",
        "indptr.csc.index.npy",
        "params.index.json",
        "vocab.index.json",
    )
]
TERMS = "lower-case words and numbers (retrikt_core.storekit.tokenize, no punctuation)"


def bm25_terms(example: Example) -> list[str]:
    """Words of the text and of the pair; punctuation carries no topic."""
    words = tokenize(example.text) + tokenize(example.text_pair or "")
    return [w for w in words if w[0].isalnum()]


@dataclass
class Bm25StoreOptions:
    library: Literal["bm25s", "rank-bm25"] = option(
        "bm25s",
        "bm25s (precomputed sparse weights, fast) or rank-bm25 (per-query scoring); "
        "both rank with BM25Okapi's weights",
    )
    k1: float = option(1.5, "term-frequency saturation", minimum=0.0)
    b: float = option(
        0.75, "document-length normalisation (0 = none, 1 = full)", minimum=0.0, maximum=1.0
    )
    epsilon: float = option(
        0.25,
        "idf of terms in over half the entries: epsilon x the mean idf (rank-bm25's floor)",
        minimum=0.0,
    )


class Bm25Store(KnowledgeStore):
    """Sparse BM25 store over entry words (bm25s or rank-bm25); scores are BM25 scores."""

    name = "bm25"
    Options = Bm25StoreOptions

    def __init__(self, options: Bm25StoreOptions | None = None) -> None:
        super().__init__(options)
        if self.options.k1 < 0 or not 0 <= self.options.b <= 1:
            raise ConfigError(
                f"store.k1 / store.b: need k1 >= 0 and 0 <= b <= 1, "
                f"got k1={self.options.k1}, b={self.options.b}"
            )
        self._table = EntryTable(self.name)
        self._docs: list[list[str]] = []
        # The index is rebuilt lazily: BM25's idf and mean length change with
        # every addition, so it is computed once, at the next search or save.
        self._model: Any = None
        self._stale = False

    def add(self, entries: list[Knowledge]) -> None:
        self._table.add(entries)
        self._docs.extend(bm25_terms(e.example) for e in entries)
        self._stale = self._stale or bool(entries)

    def __len__(self) -> int:
        return len(self._table)

    def entries(self) -> list[Knowledge]:
        return self._table.entries()

    def _index(self) -> Any:
        from retrikt_bm25 import okapi

        if self._stale:
            build = okapi.build_bm25s if self.options.library == "bm25s" else okapi.build_rank_bm25
            self._model = build(self._docs, self.options.k1, self.options.b, self.options.epsilon)
            self._stale = False
        return self._model

    def index_bytes(self) -> int | None:
        """Bytes of the bm25s weight matrix (building it if due); None for
        rank-bm25, whose index is Python dictionaries."""
        model = self._index()
        if self.options.library != "bm25s" or model is None:
            return None
        return int(sum(model.scores[name].nbytes for name in ("data", "indices", "indptr")))

    def scores(self, query: Example) -> np.ndarray:
        """BM25 score of every entry for ``query``, in insertion order."""
        from retrikt_bm25 import okapi

        model = self._index()
        terms = bm25_terms(query)
        if self.options.library == "bm25s":
            return okapi.bm25s_scores(model, terms)
        return okapi.rank_bm25_scores(model, terms, len(self._docs))

    def search(self, queries: list[Example], k: int) -> Neighbors:
        if not queries or not len(self._table) or k <= 0:
            return empty_neighbors(len(queries))
        fetch = min(k + 1, len(self._table))  # one spare: a query's own entry is dropped
        positions, scores = [], []
        for query in queries:  # one row at a time: a batch of full rows could be huge
            row = self.scores(query)[None, :]
            best = top_k(row, fetch)
            positions.append(best[0])
            scores.append(np.take_along_axis(row, best, axis=1)[0])
        return self._table.neighbors(queries, positions, scores, k)

    def save_state(self, path: Path) -> None:
        write_entries(path / ENTRIES, self._table.entries())
        files = [ENTRIES]
        if self.options.library == "bm25s" and len(self._table):
            self._index().save(str(path / BM25S_FOLDER), show_progress=False)
            files += BM25S_FILES
        write_manifest(
            path,
            files,
            count=len(self._table),
            library=self.options.library,
            weights="BM25Okapi",
            k1=self.options.k1,
            b=self.options.b,
            epsilon=self.options.epsilon,
            terms=TERMS,
        )

    def load_state(self, path: Path) -> None:
        keys = ("count", "library", "k1", "b", "epsilon", "terms")
        manifest = read_manifest(path, [ENTRIES], keys=keys)
        # component.json is not checksummed: options from another store show up here.
        for key in ("library", "k1", "b", "epsilon"):
            check_matches(path / MANIFEST, key, manifest[key], getattr(self.options, key))
        check_matches(path / MANIFEST, "terms", manifest["terms"], TERMS)
        count = manifest["count"]
        with_index = self.options.library == "bm25s" and count > 0
        if with_index:
            check_listed(path, manifest, BM25S_FILES)
        entries = read_entries(path / ENTRIES)
        check_matches(path / ENTRIES, "entry count", len(entries), count)
        table = load_table(self.name, path / ENTRIES, entries)
        model = self._load_bm25s(path / BM25S_FOLDER, count) if with_index else None
        self._table, self._model = table, model
        self._docs = [bm25_terms(e.example) for e in entries]
        self._stale = bool(entries) and not with_index  # rank-bm25: rebuilt at first search

    def _load_bm25s(self, folder: Path, count: int) -> Any:
        from retrikt_bm25 import okapi

        try:
            model = okapi.load_bm25s(str(folder))
        except (OSError, ValueError, KeyError) as exc:
            raise StoreFileError(f"{folder}: not a readable bm25s index: {exc}") from None
        check_matches(folder / "params.index.json", "num_docs", model.scores["num_docs"], count)
        columns = len(model.scores["indptr"]) - 1
        check_matches(
            folder / "vocab.index.json", "vocabulary size", len(model.vocab_dict), columns
        )
        return model
