"""Retrievers: reciprocal rank fusion on hand-made rankings, and knn merging."""

from __future__ import annotations

import pytest

from retrikt_core.builtin.retrievers import (
    HybridRetriever,
    KnnRetriever,
    reciprocal_rank_fusion,
)
from retrikt_core.interfaces import KnowledgeStore
from retrikt_core.records import Example, Knowledge, Neighbors

PROBS = {"a": [0.9, 0.1], "b": [0.2, 0.8], "c": [0.5, 0.5], "d": [0.6, 0.4], "e": [0.3, 0.7]}


class RankedStore(KnowledgeStore):
    """Returns fixed rankings with fixed (scale-specific) scores, whatever the query."""

    name = "ranked"

    def __init__(self, ranking: list[str], scores: list[float]) -> None:
        super().__init__()
        self.ranking, self.scores, self.asked = ranking, scores, []

    def add(self, entries: list[Knowledge]) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ranking)

    def entries(self) -> list[Knowledge]:
        return []

    def search(self, queries: list[Example], k: int) -> Neighbors:
        self.asked.append(k)
        ids = self.ranking[:k]
        return Neighbors(
            [list(ids) for _ in queries],
            [self.scores[:k] for _ in queries],
            [[PROBS[i] for i in ids] for _ in queries],
        )


def test_fusion_sums_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], rrf_k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 63)


def test_fusion_orders_by_fused_score_and_breaks_ties_by_best_rank():
    # a: 1/(1+1) + 1/(1+3) = 0.75 and c: 1/(1+3) + 1/(1+1) = 0.75 tie; both have
    # a best rank of 1, a's in the earlier list. b: 1/3 + 1/3; d: 1/(1+4).
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "b", "a", "d"]], rrf_k=1)
    assert [i for i, _ in fused] == ["a", "c", "b", "d"]
    assert [s for _, s in fused] == pytest.approx([0.75, 0.75, 2 / 3, 1 / 5])


def test_hybrid_fuses_ranks_not_raw_scores():
    # Dense cosine scores near 1 and BM25 scores near 20: knn lets BM25 win
    # outright, hybrid weighs both rankings alike.
    dense = RankedStore(["a", "b", "c"], [0.91, 0.90, 0.10])
    sparse = RankedStore(["b", "d", "e"], [25.0, 20.0, 19.0])
    queries = [Example("x", id="q1"), Example("y", id="q2")]

    hybrid = HybridRetriever(HybridRetriever.Options(k=3, rrf_k=60))
    hybrid.bind([dense, sparse])
    found = hybrid.retrieve(queries)
    assert found.ids == [["b", "a", "d"]] * 2
    assert found.scores[0] == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62])
    assert found.label_probs[0] == [PROBS["b"], PROBS["a"], PROBS["d"]]

    knn = KnnRetriever(KnnRetriever.Options(k=3))
    knn.bind([dense, sparse])
    assert knn.retrieve(queries).ids[0] == ["b", "d", "e"]


def test_hybrid_depth_reaches_past_k():
    dense = RankedStore(["a", "b", "c", "d"], [4.0, 3.0, 2.0, 1.0])
    sparse = RankedStore(["d", "e", "c", "a"], [4.0, 3.0, 2.0, 1.0])
    shallow = HybridRetriever(HybridRetriever.Options(k=2, rrf_k=0.5))
    shallow.bind([dense, sparse])
    assert shallow.retrieve([Example("x")]).ids == [["a", "d"]]
    # Four from each store: a (ranks 1 and 4) and d (4 and 1) lead, then c
    # (3 and 3) beats b and e, which each hold one rank 2.
    deep = HybridRetriever(HybridRetriever.Options(k=3, rrf_k=0.5, depth=4))
    deep.bind([dense, sparse])
    found = deep.retrieve([Example("x")])
    assert dense.asked[-1] == 4 and sparse.asked[-1] == 4
    assert found.ids == [["a", "d", "c"]]
    assert found.scores[0] == pytest.approx([1 / 1.5 + 1 / 4.5, 1 / 4.5 + 1 / 1.5, 2 / 3.5])


def test_hybrid_with_empty_rows_and_k_override():
    hybrid = HybridRetriever()
    hybrid.bind([RankedStore([], []), RankedStore(["c", "a"], [2.0, 1.0])])
    assert hybrid.options.rrf_k == 60 and hybrid.k == 16
    found = hybrid.retrieve([Example("x")], k=1)
    assert found.ids == [["c"]] and found.label_probs == [[PROBS["c"]]]
