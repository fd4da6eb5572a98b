"""The memory store's files: keys saved as their non-zeros, stores saved with
dense keys still read, and damaged non-zeros refused by name."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.storekit import (
    NONZERO,
    StoreFileError,
    keys_from_nonzero,
    nonzero_keys,
    write_manifest,
)
from retrikt_core.testing.store_contract import assert_same_neighbors, synthetic_entries

DIM = 512


def saved_store(tmp_path):
    store = MemoryStore(MemoryStore.Options(dim=DIM))
    entries = synthetic_entries(200)
    store.add(entries)
    store.save_pretrained(tmp_path / "store")
    return store, entries, tmp_path / "store"


def rewrite(path, name, array, files=MemoryStore.FILES):
    """Replace ``name`` with ``array`` and write the manifest again, so its
    checksums pass and only the content is wrong."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    (path / name).write_bytes(buffer.getvalue())
    list_files(path, files)


def list_files(path, files):
    """Write the store's manifest again, listing ``files``."""
    manifest = json.loads((path / "store.json").read_text())
    info = {key: value for key, value in manifest.items() if key != "sha256"}
    write_manifest(path, files, **info)


def test_nonzeros_round_trip_exactly():
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((7, 40)).astype(np.float32)
    keys[rng.random(keys.shape) < 0.9] = 0.0
    keys[3] = 0.0  # an entry whose text has no terms
    nonzero = nonzero_keys(keys)
    assert nonzero.dtype == NONZERO and len(nonzero) == np.count_nonzero(keys)
    assert np.array_equal(keys_from_nonzero(nonzero, keys.shape, "k"), keys)
    empty = np.zeros((0, 40), np.float32)
    assert keys_from_nonzero(nonzero_keys(empty), (0, 40), "k").shape == (0, 40)


def test_keys_are_saved_as_their_nonzeros(tmp_path):
    store, entries, path = saved_store(tmp_path)
    assert not (path / "vectors.npy").exists()
    dense = store.encode([e.example for e in entries])
    manifest = json.loads((path / "store.json").read_text())
    saved = keys_from_nonzero(np.load(path / "keys.npy"), (manifest["count"], DIM), "keys")
    assert np.array_equal(saved, dense)
    # A few dozen terms a sentence out of 512 columns: a small share of the dense bytes.
    assert (path / "keys.npy").stat().st_size < dense.nbytes / 4


def test_a_store_saved_with_dense_keys_still_loads(tmp_path):
    store, entries, path = saved_store(tmp_path)
    queries = [e.example for e in entries[:20]]
    dense = store.encode([e.example for e in entries])
    (path / "keys.npy").unlink()
    rewrite(path, "vectors.npy", dense, MemoryStore.DENSE_FILES)
    loaded = MemoryStore.from_pretrained(path)
    assert_same_neighbors(loaded.search(queries, 8), store.search(queries, 8))
    loaded.add(synthetic_entries(3, seed=5, prefix="new"))
    loaded.save_pretrained(path)  # in place, the new way, without the dense copy
    assert (path / "keys.npy").is_file() and not (path / "vectors.npy").exists()
    assert len(MemoryStore.from_pretrained(path)) == len(entries) + 3


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda nz: nz["value"].copy(), "not key non-zeros"),
        (lambda nz: np.concatenate([nz, nz[-1:]]), "out of order or repeated"),
        (lambda nz: nz[::-1], "out of order or repeated"),
        (lambda nz: set_field(nz, "column", DIM), "outside the 200 x 512 keys"),
        (lambda nz: set_field(nz, "row", 200), "outside the 200 x 512 keys"),
        (lambda nz: set_field(nz, "value", np.nan), "not finite"),
    ],
)
def test_damaged_nonzeros_are_refused_by_name(tmp_path, damage, message):
    _, _, path = saved_store(tmp_path)
    rewrite(path, "keys.npy", damage(np.load(path / "keys.npy")))
    with pytest.raises(StoreFileError, match=r"keys\.npy: .*" + message):
        MemoryStore.from_pretrained(path)


def set_field(nonzero, field, value):
    changed = nonzero.copy()
    changed[field][-1] = value
    return changed


def test_a_manifest_that_lists_neither_key_file_is_refused(tmp_path):
    _, _, path = saved_store(tmp_path)
    (path / "keys.npy").unlink()
    list_files(path, ["entries.jsonl"])
    with pytest.raises(StoreFileError, match="lists no checksum for keys.npy"):
        MemoryStore.from_pretrained(path)
