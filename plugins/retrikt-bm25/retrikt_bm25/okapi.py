"""BM25 with rank-bm25's ``BM25Okapi`` weights, in both libraries.

bm25s precomputes every (term, document) weight into a sparse matrix, so a
query costs a few column sums; rank-bm25 recomputes them for every query.
bm25s's own variants do not rank as ``BM25Okapi`` does: its ``robertson``
idf is floored at 0 where rank-bm25 gives terms that occur in more than half
the documents ``epsilon`` x the mean idf, so rankings part wherever such
common words matter (RTE's "the", "of", ...). :class:`OkapiBM25` fills the
bm25s matrix with ``BM25Okapi``'s weights through ``build_index_from_ids``,
the hook bm25s documents for building the index another way; scoring, saving
and loading stay bm25s's own.

This module imports bm25s and rank-bm25; the store imports it lazily.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import bm25s
import numpy as np
import rank_bm25


def okapi_weights(
    docs: list[list[int]], n_vocab: int, k1: float, b: float, epsilon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(data, indices, indptr)`` of the ``[docs, vocab]`` weight matrix in
    compressed-column form (one column per term, documents ascending):

    ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg_len))``

    with ``idf(t) = log((N - df + 0.5) / (df + 0.5))``, and a negative idf
    replaced by ``epsilon`` x the vocabulary's mean idf, as in rank-bm25.
    """
    n_docs = len(docs)
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=n_docs)
    terms = np.fromiter(chain.from_iterable(docs), dtype=np.int64, count=int(lengths.sum()))
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    # One key per (term, document), sorted by term then document: column order.
    pairs, tf = np.unique(terms * max(n_docs, 1) + doc_of, return_counts=True)
    term, doc = np.divmod(pairs, max(n_docs, 1))
    df = np.bincount(term, minlength=n_vocab)
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    seen = df > 0
    if seen.any():
        idf[(idf < 0) & seen] = epsilon * idf[seen].mean()
    avg_len = lengths.mean() if n_docs and lengths.sum() else 1.0
    norm = k1 * (1 - b + b * lengths[doc] / avg_len)
    data = idf[term] * tf * (k1 + 1) / (tf + norm)
    indptr = np.concatenate([[0], np.cumsum(df)])
    return data, doc, indptr


class OkapiBM25(bm25s.BM25):
    """A bm25s index with ``BM25Okapi`` weights (``method`` only labels bm25s's
    saved parameters; the weights are computed here)."""

    def __init__(self, k1: float, b: float, epsilon: float) -> None:
        super().__init__(k1=k1, b=b, method="atire", backend="numpy")
        self.epsilon = epsilon

    def build_index_from_ids(
        self,
        unique_token_ids: list[int],
        corpus_token_ids: list[list[int]],
        show_progress: bool = True,
        leave_progress: bool = False,
    ) -> dict[str, Any]:
        self.nonoccurrence_array = None  # only bm25s's BM25L / BM25+ variants use it
        data, indices, indptr = okapi_weights(
            corpus_token_ids, len(unique_token_ids), self.k1, self.b, self.epsilon
        )
        return {
            "data": data.astype(self.dtype),
            "indices": indices.astype(self.int_dtype),
            "indptr": indptr,
            "num_docs": len(corpus_token_ids),
        }


def vocabulary(docs: list[list[str]]) -> tuple[list[list[int]], dict[str, int]]:
    """Term ids in first-seen order (bm25s numbers terms in set order, which
    changes from process to process; this keeps saved files reproducible)."""
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(term, len(vocab)) for term in doc] for doc in docs]
    return ids, vocab


def build_bm25s(docs: list[list[str]], k1: float, b: float, epsilon: float) -> OkapiBM25:
    model = OkapiBM25(k1, b, epsilon)
    model.index(vocabulary(docs), create_empty_token=False, show_progress=False)
    return model


def load_bm25s(folder: str) -> bm25s.BM25:
    """A saved bm25s index (the matrix holds the weights; any subclass loads as BM25)."""
    return bm25s.BM25.load(folder, mmap=False, load_corpus=False, show_progress=False)


def bm25s_scores(model: bm25s.BM25, terms: list[str]) -> np.ndarray:
    """Scores of every document for query ``terms``; terms outside the
    vocabulary add nothing, and a query of none scores 0 everywhere."""
    ids = model.get_tokens_ids(terms)
    if not ids:
        return np.zeros(model.scores["num_docs"], dtype=np.float32)
    return model.get_scores_from_ids(ids)


def build_rank_bm25(
    docs: list[list[str]], k1: float, b: float, epsilon: float
) -> rank_bm25.BM25Okapi | None:
    """rank-bm25's index, or None when no document has a term (it divides by
    the vocabulary size)."""
    if not any(docs):
        return None
    return rank_bm25.BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon)


def rank_bm25_scores(
    model: rank_bm25.BM25Okapi | None, terms: list[str], n_docs: int
) -> np.ndarray:
    if model is None:
        return np.zeros(n_docs)
    return model.get_scores(terms)
