"""Top-k selection shared by the stores.

Equal scores keep index (insertion) order, so a search gives the same
neighbours on every run, after a save and load, and across libraries that
compute the same scores.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores of each row of ``[n, m]`` ``scores``,
    best first, ties in index order; ``O(m)`` per row when ``k < m``."""
    scores = np.asarray(scores)
    rows, width = scores.shape
    k = max(0, min(k, width))
    out = np.empty((rows, k), dtype=np.int64)
    if k == 0:
        return out
    for row in range(rows):
        values = scores[row]
        if k == width:
            out[row] = np.argsort(-values, kind="stable")
            continue
        kth = np.partition(values, width - k)[width - k]
        above = np.flatnonzero(values > kth)
        # Of the scores equal to the k-th largest, the earliest entries fill the rest.
        ties = np.flatnonzero(values == kth)[: k - len(above)]
        chosen = np.concatenate([above, ties])
        out[row] = chosen[np.argsort(-values[chosen], kind="stable")]
    return out


# Scores held at once by a blocked search: 4M float32 (16 MB), whatever the
# store's size, so searching a 100k store with 100k queries never builds the
# 40 GB score matrix.
SEARCH_CELLS = 1 << 22


def query_blocks(queries: int, keys: int, cells: int = SEARCH_CELLS) -> list[range]:
    """Consecutive ranges of query rows whose ``[rows, keys]`` score block
    holds at most ``cells`` scores (at least one row per block)."""
    rows = max(1, cells // max(1, keys))
    return [range(start, min(start + rows, queries)) for start in range(0, queries, rows)]


def inner_product_top_k(
    queries: np.ndarray, keys: np.ndarray, k: int, cells: int = SEARCH_CELLS
) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product search, ``(positions [n, k], scores [n, k])`` best
    first (ties in index order), computed a block of queries at a time so the
    memory it takes is bounded by ``cells`` scores, not by ``n * len(keys)``."""
    n = len(queries)
    k = max(0, min(k, len(keys)))
    positions = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for block in query_blocks(n, len(keys), cells):
        rows = slice(block.start, block.stop)
        block_scores = queries[rows] @ keys.T
        best = top_k(block_scores, k)
        positions[rows] = best
        scores[rows] = np.take_along_axis(block_scores, best, axis=1)
    return positions, scores
