"""The built-in memory store against the shared store contract."""

from __future__ import annotations

from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.testing.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    def make_store(self, tmp_path):
        return MemoryStore(MemoryStore.Options(dim=512))
