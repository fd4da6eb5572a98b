"""Retrievers over the bound stores: ``knn`` merges by raw score, ``hybrid``
fuses the stores' rankings (reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrikt_core.api import Example, Neighbors, Retriever, option


@dataclass
class KnnRetrieverOptions:
    k: int = option(16, "neighbours retrieved per query", minimum=1)


class KnnRetriever(Retriever):
    """The k best entries across the bound stores, by each store's own score.

    Raw scores are only comparable between stores of one kind (cosine with
    cosine); to combine a dense and a sparse store use ``hybrid``.
    """

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


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], rrf_k: float
) -> list[tuple[str, float]]:
    """Fuse ranked id lists (best first): an id scores the sum over the lists
    that hold it of ``1 / (rrf_k + rank)``, rank counted from 1 (Cormack et
    al., 2009). Best first; equal scores go to the better single rank, then
    to the earlier list."""
    fused: dict[str, float] = {}
    order: dict[str, tuple[int, int]] = {}
    for list_index, ranking in enumerate(rankings):
        for rank, entry_id in enumerate(ranking, start=1):
            fused[entry_id] = fused.get(entry_id, 0.0) + 1.0 / (rrf_k + rank)
            best = order.get(entry_id)
            if best is None or rank < best[0]:
                order[entry_id] = (rank, list_index)
    return sorted(fused.items(), key=lambda item: (-item[1], *order[item[0]]))


@dataclass
class HybridRetrieverOptions:
    k: int = option(16, "neighbours retrieved per query", minimum=1)
    rrf_k: float = option(
        60.0, "fusion constant: an entry at rank r adds 1 / (rrf_k + r)", minimum=0.0
    )
    depth: int = option(0, "entries each store returns before fusion; 0 = k", minimum=0)


class HybridRetriever(Retriever):
    """Reciprocal rank fusion of the bound stores' rankings (dense + sparse).

    Ranks, not raw scores, are combined, so stores whose scores live on
    different scales (cosine, BM25) count alike. ``Neighbors.scores`` are the
    fused scores; an entry's label distribution is the one its store returned.
    """

    name = "hybrid"
    Options = HybridRetrieverOptions

    def retrieve(self, examples: list[Example], k: int | None = None) -> Neighbors:
        k = self.k if k is None else k
        depth = max(k, self.options.depth)
        results = [store.search(examples, depth) for store in self.stores]
        ids, scores, probs = [], [], []
        for q in range(len(examples)):
            label_probs: dict[str, list[float]] = {}
            for result in results:
                for entry_id, entry_probs in zip(result.ids[q], result.label_probs[q], strict=True):
                    label_probs.setdefault(entry_id, entry_probs)
            fused = reciprocal_rank_fusion([r.ids[q] for r in results], self.options.rrf_k)[:k]
            ids.append([entry_id for entry_id, _ in fused])
            scores.append([score for _, score in fused])
            probs.append([label_probs[entry_id] for entry_id, _ in fused])
        return Neighbors(ids, scores, probs)
