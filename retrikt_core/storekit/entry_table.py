"""A knowledge store's entries: insertion order, unique ids, and the step from
an index's raw hits to :class:`Neighbors` that every store shares."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retrikt_core.records import Example, Knowledge, Neighbors
from retrikt_core.storekit.files import StoreFileError


def empty_neighbors(n: int) -> Neighbors:
    """``n`` queries with no neighbours (empty store, ``k = 0``)."""
    return Neighbors([[] for _ in range(n)], [[] for _ in range(n)], [[] for _ in range(n)])


class EntryTable:
    """Entries in insertion order with an id -> position map."""

    def __init__(self, store_name: str) -> None:
        self.store_name = store_name
        self._entries: list[Knowledge] = []
        self._positions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, position: int) -> Knowledge:
        return self._entries[position]

    def entries(self) -> list[Knowledge]:
        return list(self._entries)

    def position(self, entry_id: str) -> int | None:
        """Where the entry with ``entry_id`` sits, or None (also for an empty id)."""
        return self._positions.get(entry_id) if entry_id else None

    def check_new(self, entries: Sequence[Knowledge]) -> None:
        """Refuse ids already in the table or repeated within ``entries``."""
        seen: set[str] = set()
        for entry in entries:
            if entry.id in self._positions or entry.id in seen:
                raise ValueError(f"store {self.store_name!r}: duplicate entry id {entry.id!r}")
            seen.add(entry.id)

    def add(self, entries: Sequence[Knowledge]) -> None:
        """Append ``entries``; all or nothing, so a refused batch leaves the table as it was."""
        self.check_new(entries)
        for entry in entries:
            self._positions[entry.id] = len(self._entries)
            self._entries.append(entry)

    def neighbors(
        self,
        queries: Sequence[Example],
        positions: Sequence[Sequence[Any]],
        scores: Sequence[Sequence[Any]],
        k: int,
    ) -> Neighbors:
        """Turn an index's hits (``[query][rank]`` positions, best first) into
        at most ``k`` neighbours per query. Negative positions (an index that
        found fewer) and the query's own entry are dropped, which is why
        stores ask their index for ``k + 1``."""
        ids, out_scores, probs = [], [], []
        for query, row_positions, row_scores in zip(queries, positions, scores, strict=True):
            own = self.position(query.id)
            kept = [
                (int(p), float(s))
                for p, s in zip(row_positions, row_scores, strict=True)
                if p >= 0 and p != own
            ][:k]
            ids.append([self._entries[p].id for p, _ in kept])
            out_scores.append([s for _, s in kept])
            probs.append([list(self._entries[p].teacher_probs) for p, _ in kept])
        return Neighbors(ids, out_scores, probs)


def load_table(store_name: str, file: Path, entries: Sequence[Knowledge]) -> EntryTable:
    """A table of entries read from ``file``; repeated ids mean the file is corrupt."""
    table = EntryTable(store_name)
    try:
        table.add(entries)
    except ValueError as exc:
        raise StoreFileError(f"{file}: {exc}") from None
    return table
