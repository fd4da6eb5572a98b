"""Dense keys computed apart from their store: checked on the way in,
carried as text (exact float32 bytes) between an executor's workers and the
process that builds the store, and saved as their non-zeros."""

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


#: One non-zero of a key matrix: its row (entry), column and value.
NONZERO = np.dtype([("row", "<u4"), ("column", "<u4"), ("value", "<f4")])


def nonzero_keys(keys: np.ndarray) -> np.ndarray:
    """The non-zeros of a ``(rows, dim)`` key matrix, row by row (a
    :data:`NONZERO` array). Hashed n-gram keys of a sentence fill a few
    dozen of their thousands of columns: saved this way, the keys of 8,000
    SST-2 phrases take 2.2 MB instead of 65.5 MB (2,048 dimensions)."""
    rows, columns = np.nonzero(keys)
    out = np.empty(len(rows), dtype=NONZERO)
    out["row"], out["column"], out["value"] = rows, columns, keys[rows, columns]
    return out


def keys_from_nonzero(nonzero: np.ndarray, shape: tuple[int, int], file: str) -> np.ndarray:
    """The dense float32 keys that :func:`nonzero_keys` saved, or ValueError
    naming ``file`` and what is wrong: another dtype, a row or column outside
    ``shape``, cells out of order or repeated, a value that is not finite."""
    if nonzero.dtype != NONZERO or nonzero.ndim != 1:
        raise ValueError(f"{file}: holds {nonzero.dtype} {nonzero.shape}, not key non-zeros")
    rows, dim = shape
    row, column = (nonzero[name].astype(np.int64) for name in ("row", "column"))
    value = nonzero["value"]
    if len(nonzero) and (row.max() >= rows or column.max() >= dim):
        raise ValueError(f"{file}: a non-zero lies outside the {rows} x {dim} keys")
    cell = row * dim + column
    if np.any(np.diff(cell) <= 0):
        raise ValueError(f"{file}: non-zeros out of order or repeated")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{file}: a key value is not finite")
    keys = np.zeros(shape, dtype=np.float32)
    keys[row, column] = value
    return keys
