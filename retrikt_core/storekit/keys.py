"""Dense keys computed apart from their store: checked on the way in, and
carried as text (exact float32 bytes) between an executor's workers and the
process that builds the store."""

from __future__ import annotations

import base64

import numpy as np


def checked_keys(keys: np.ndarray, rows: int, dim: int, store: str) -> np.ndarray:
    """``keys`` as a float32 ``(rows, dim)`` array, or ValueError naming the
    store and the shape it expected (keys from a store with other options)."""
    array = np.asarray(keys, dtype=np.float32)
    if array.shape != (rows, dim):
        raise ValueError(
            f"{store} store: keys of shape {array.shape} for {rows} entries; "
            f"its keys are {dim}-dimensional"
        )
    return array


def key_to_text(row: np.ndarray) -> str:
    """One key row as base64 of its little-endian float32 bytes (exact, compact)."""
    return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode("ascii")


def keys_from_text(rows: list[str]) -> np.ndarray:
    """The float32 keys, one row per text, that :func:`key_to_text` wrote."""
    decoded = [np.frombuffer(base64.b64decode(r), dtype="<f4") for r in rows]
    if len({len(row) for row in decoded}) > 1:
        raise ValueError("keys of different lengths")
    return np.stack(decoded).astype(np.float32) if decoded else np.zeros((0, 0), np.float32)
