"""FAISS indexes for the store: how each type is built (and trained), how it
is searched, and how it is written to and read from bytes.

faiss is imported inside the functions, never at module import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRAINED_TYPES = ("ivf", "ivfpq")
# faiss's k-means warns below 39 training vectors per centroid; IVF lists with
# fewer vectors than that give each probe too little to search.
MIN_VECTORS_PER_LIST = 39


@dataclass(frozen=True)
class IndexPlan:
    """An index type with its parameters as built, and why any differ from the
    options (too few vectors to train on)."""

    kind: str
    factory: str
    params: dict[str, int]
    notes: list[str] = field(default_factory=list)


def plan_index(options: Any, n_train: int) -> IndexPlan:
    """What to build for ``options`` when ``n_train`` vectors are there to train on."""
    kind = options.index
    if kind == "flat":
        return IndexPlan(kind, "Flat", {})
    if kind == "hnsw":
        params = {
            "hnsw_m": options.hnsw_m,
            "ef_construction": options.ef_construction,
            "ef_search": options.ef_search,
        }
        return IndexPlan(kind, f"HNSW{options.hnsw_m},Flat", params)
    notes = []
    nlist = options.nlist
    most = max(1, n_train // MIN_VECTORS_PER_LIST)
    if nlist > most:
        notes.append(
            f"nlist lowered from {nlist} to {most}: {n_train} training vectors, "
            f"at least {MIN_VECTORS_PER_LIST} per list"
        )
        nlist = most
    params = {"nlist": nlist, "nprobe": min(options.nprobe, nlist)}
    if kind == "ivf":
        return IndexPlan(kind, f"IVF{nlist},Flat", params, notes)
    nbits = options.pq_nbits
    while nbits > 1 and 2**nbits > n_train:
        nbits -= 1  # k-means needs at least one training vector per code
    if nbits != options.pq_nbits:
        notes.append(
            f"pq_nbits lowered from {options.pq_nbits} to {nbits}: "
            f"{n_train} training vectors for 2^bits codes"
        )
    params |= {"pq_m": options.pq_m, "pq_nbits": nbits}
    return IndexPlan(kind, f"IVF{nlist},PQ{options.pq_m}x{nbits}", params, notes)


def build_index(plan: IndexPlan, dim: int, train: np.ndarray | None) -> Any:
    """An empty index for ``plan``, trained on ``train`` when the type needs it
    (left untrained when ``train`` is None: the empty store's index)."""
    import faiss

    index = faiss.index_factory(dim, plan.factory, faiss.METRIC_INNER_PRODUCT)
    if plan.kind == "hnsw":
        index.hnsw.efConstruction = plan.params["ef_construction"]
        index.hnsw.efSearch = plan.params["ef_search"]
    if plan.kind == "ivfpq":
        # Polysemous training reorders PQ codes for Hamming-distance filtering,
        # which this store never uses; it costs ~50 s of CPU for 300 vectors.
        faiss.downcast_index(index).do_polysemous_training = False
    if plan.kind in TRAINED_TYPES and train is not None:
        # A single vector cannot seed two PQ codes; a repeat of it can.
        need = 2 ** plan.params.get("pq_nbits", 0)
        if len(train) < need:
            train = np.repeat(train, -(-need // len(train)), axis=0)
        index.train(np.ascontiguousarray(train, dtype=np.float32))
    return index


def index_kind(index: Any) -> str:
    """The store's name for a loaded index's type."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVFPQ):
        return "ivfpq"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    return type(index).__name__


def search_index(
    index: Any, kind: str, vectors: np.ndarray, fetch: int, ef_search: int, nprobe: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, positions)`` of the ``fetch`` best per row; ``-1`` positions
    where an approximate index found fewer. When ``fetch`` covers the whole
    store the search is exhaustive, so that every entry comes back."""
    import faiss

    exhaustive = fetch >= index.ntotal
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "hnsw":
        if exhaustive:  # the graph's flat storage: exact scores, every vector
            return faiss.downcast_index(index.storage).search(vectors, fetch)
        # efSearch below fetch would return fewer than fetch candidates.
        params = faiss.SearchParametersHNSW(efSearch=max(ef_search, fetch))
        return index.search(vectors, fetch, params=params)
    if kind in TRAINED_TYPES:
        nlist = faiss.extract_index_ivf(index).nlist
        params = faiss.SearchParametersIVF(nprobe=nlist if exhaustive else min(nprobe, nlist))
        return index.search(vectors, fetch, params=params)
    return index.search(vectors, fetch)


def index_bytes(index: Any) -> bytes:
    """The index in faiss's own file format (what ``faiss.write_index`` writes)."""
    import faiss

    return faiss.serialize_index(index).tobytes()


def index_from_bytes(data: bytes) -> Any:
    import faiss

    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
