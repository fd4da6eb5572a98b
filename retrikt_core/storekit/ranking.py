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
