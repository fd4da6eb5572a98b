"""The contract every :class:`KnowledgeStore` passes, as a pytest base class.

A plugin's test module subclasses it and says how to build the store::

    from retrikt_core.testing.store_contract import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self, tmp_path):
            return MyStore(MyStore.Options(dim=256))

pytest then runs every ``test_*`` method below against that store: add,
search and a save/load round trip that must give identical neighbours; ``k``
larger than the store; the empty store; self-exclusion; duplicate ids; and
refusal of saved files that are missing, truncated or taken from another
store, with an error that names the file. The data is synthetic and small
(``n_entries``), so the suite runs in seconds.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import ClassVar

import pytest

from retrikt_core.interfaces import COMPONENT_FILE, KnowledgeStore
from retrikt_core.records import Example, Knowledge, Neighbors
from retrikt_core.storekit import MANIFEST, StoreFileError

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_VOWELS = ["a", "e", "i", "o", "u"]
# Words that occur in most entries, as function words do in real text (BM25
# gives them little or floor weight; dense keys see them everywhere).
_COMMON = ["the", "and", "of"]


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    syllables = [o + v for o in _ONSETS for v in _VOWELS]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))))
    return sorted(words)


def synthetic_entries(
    n: int, *, seed: int = 0, prefix: str = "e", num_labels: int = 3
) -> list[Knowledge]:
    """``n`` entries of pseudo-word text with every field set: some sentence
    pairs, some unlabelled (``requested_label`` None), some with U+2028 and
    U+0085 in their text, nested provenance."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(400, random.Random(12345))  # shared by every seed

    def sentence() -> str:
        words = rng.sample(vocabulary, rng.randint(5, 10))
        words += [w for w in _COMMON if rng.random() < 0.7]
        rng.shuffle(words)
        return " ".join(words)

    entries = []
    for i in range(n):
        weights = [rng.random() + 0.05 for _ in range(num_labels)]
        text = sentence()
        if i % 7 == 6:  # generated text holds breaks that str.splitlines() also cuts at
            text = text.replace(" ", "\u2028", 1).replace(" ", "\x85", 1)
        entries.append(
            Knowledge(
                text=text,
                text_pair=sentence() if i % 4 == 3 else None,
                requested_label=None if i % 5 == 4 else i % num_labels,
                teacher_probs=tuple(w / sum(weights) for w in weights),
                source="corpus" if i % 5 == 4 else "generator",
                provenance={"seed": seed, "step": i, "tags": ["synthetic", prefix]},
                id=f"{prefix}{i}",
            )
        )
    return entries


def store_files(path: Path) -> list[str]:
    """Files a store wrote under ``path`` (relative, POSIX), without the
    ``component.json`` every component writes."""
    return sorted(
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and p.name != COMPONENT_FILE
    )


def assert_same_neighbors(found: Neighbors, expected: Neighbors) -> None:
    assert found.ids == expected.ids
    assert found.label_probs == expected.label_probs
    for row_found, row_expected in zip(found.scores, expected.scores, strict=True):
        assert row_found == pytest.approx(row_expected, rel=1e-6, abs=1e-6)


class StoreContract:
    """Subclass as ``Test...`` and implement :meth:`make_store`."""

    n_entries: ClassVar[int] = 300
    k: ClassVar[int] = 8
    # Share of entries that their own text (query without their id) finds
    # within the top k; lossy indexes (product quantisation) may lower it.
    min_self_recall: ClassVar[float] = 0.9

    def make_store(self, tmp_path: Path) -> KnowledgeStore:
        """A new, empty store of the kind under test (``tmp_path`` is free to use)."""
        raise NotImplementedError("subclass StoreContract and implement make_store")

    # helpers -----------------------------------------------------------------

    def filled(self, tmp_path: Path, entries: list[Knowledge] | None = None) -> KnowledgeStore:
        store = self.make_store(tmp_path)
        store.add(synthetic_entries(self.n_entries) if entries is None else entries)
        return store

    def reload(self, store: KnowledgeStore, path: Path) -> KnowledgeStore:
        store.save_pretrained(path)
        return type(store).from_pretrained(path)

    def queries(self) -> list[Example]:
        """Entries asking with their own ids (self-exclusion) and unseen text."""
        own = [e.example for e in synthetic_entries(self.n_entries)[::15]]
        return own + [e.example for e in synthetic_entries(12, seed=1, prefix="q")]

    # the contract --------------------------------------------------------------

    def test_add_keeps_entries_in_order(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        store = self.filled(tmp_path, entries)
        assert len(store) == len(entries)
        assert store.entries() == entries
        loaded = self.reload(store, tmp_path / "saved")
        assert len(loaded) == len(entries)
        assert loaded.entries() == entries

    def test_round_trip_gives_identical_neighbours(self, tmp_path):
        store = self.filled(tmp_path)
        queries = self.queries()
        before = store.search(queries, self.k)
        after = self.reload(store, tmp_path / "saved").search(queries, self.k)
        assert_same_neighbors(after, before)
        assert all(len(row) == self.k for row in before.ids)

    def test_neighbours_are_best_first_and_carry_entry_labels(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        store = self.filled(tmp_path, entries)
        by_id = {e.id: e for e in entries}
        found = store.search(self.queries(), self.k)
        assert len(found) == len(self.queries())
        for ids, scores, probs in zip(found.ids, found.scores, found.label_probs, strict=True):
            assert len(set(ids)) == len(ids)
            assert all(a >= b for a, b in zip(scores, scores[1:], strict=False))
            assert probs == [list(by_id[i].teacher_probs) for i in ids]

    def test_finds_entries_by_their_own_text(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        store = self.filled(tmp_path, entries)
        sample = entries[::7]
        queries = [Example(e.text, e.text_pair, id="") for e in sample]
        found = store.search(queries, self.k)
        hits = sum(e.id in row for e, row in zip(sample, found.ids, strict=True))
        assert hits / len(sample) >= self.min_self_recall

    def test_k_larger_than_store_returns_every_entry(self, tmp_path):
        entries = synthetic_entries(7)
        store = self.filled(tmp_path, entries)
        queries = [entries[2].example, Example("the fresh query", id="q")]
        found = store.search(queries, 50)
        everyone = {e.id for e in entries}
        assert sorted(found.ids[0]) == sorted(everyone - {entries[2].id})
        assert sorted(found.ids[1]) == sorted(everyone)

    def test_empty_store(self, tmp_path):
        store = self.make_store(tmp_path)
        queries = self.queries()
        assert len(store) == 0 and store.entries() == []
        found = store.search(queries, self.k)
        assert found.ids == [[] for _ in queries]
        assert found.scores == [[] for _ in queries] and found.label_probs == found.scores
        loaded = self.reload(store, tmp_path / "saved")
        assert len(loaded) == 0
        assert loaded.search(queries, self.k).ids == [[] for _ in queries]
        # A reloaded empty store still takes entries; queries[0] is entry e0 itself.
        loaded.add(synthetic_entries(5))
        assert len(loaded.search(queries[:1], self.k).ids[0]) == 4

    def test_k_zero_returns_empty_rows(self, tmp_path):
        store = self.filled(tmp_path)
        assert store.search(self.queries(), 0).ids == [[] for _ in self.queries()]

    def test_self_exclusion(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        store = self.filled(tmp_path, entries)
        queries = [e.example for e in entries[::10]]
        found = store.search(queries, self.k)
        for query, row in zip(queries, found.ids, strict=True):
            assert query.id not in row
            assert len(row) == self.k  # the store looked one further

    def test_self_exclusion_goes_by_id_not_text(self, tmp_path):
        entries = synthetic_entries(7)
        store = self.filled(tmp_path, entries)
        # The text of entry 1 asked under the id of entry 0: entry 1 is its
        # exact match and stays; entry 0 is the asker and goes.
        found = store.search([Example(entries[1].text, entries[1].text_pair, id="e0")], 50)
        assert "e0" not in found.ids[0]
        assert "e1" in found.ids[0] and len(found.ids[0]) == 6

    def test_later_adds_are_searchable(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        half = len(entries) // 2
        store = self.make_store(tmp_path)
        store.add(entries[:half])
        store.search(self.queries()[:1], self.k)  # the index may be built (trained) here
        store.add(entries[half:])
        assert store.entries() == entries
        late = entries[half::9]
        found = store.search([Example(e.text, e.text_pair) for e in late], self.k)
        hits = sum(e.id in row for e, row in zip(late, found.ids, strict=True))
        assert hits / len(late) >= self.min_self_recall

    def test_duplicate_ids_refused(self, tmp_path):
        entries = synthetic_entries(self.n_entries)
        store = self.filled(tmp_path, entries)
        before = store.search(self.queries(), self.k)
        fresh = synthetic_entries(3, seed=2, prefix="new")
        clash = Knowledge(text="another text", teacher_probs=(1.0, 0.0, 0.0), id=entries[5].id)
        with pytest.raises(ValueError, match=entries[5].id):
            store.add([*fresh, clash])
        with pytest.raises(ValueError, match="new1"):
            store.add([*fresh, fresh[1]])
        assert len(store) == len(entries) and store.entries() == entries
        assert_same_neighbors(store.search(self.queries(), self.k), before)
        loaded = self.reload(store, tmp_path / "saved")
        with pytest.raises(ValueError, match=entries[0].id):
            loaded.add([entries[0]])

    def test_missing_file_refused(self, tmp_path):
        saved = tmp_path / "saved"
        self.filled(tmp_path).save_pretrained(saved)
        files = store_files(saved)
        assert files, "the store wrote no files of its own"
        for i, name in enumerate(files):
            broken = tmp_path / f"copy{i}"
            shutil.copytree(saved, broken)
            (broken / name).unlink()
            with pytest.raises(StoreFileError) as error:
                type(self.make_store(tmp_path)).from_pretrained(broken)
            assert name in str(error.value)

    def test_truncated_file_refused(self, tmp_path):
        saved = tmp_path / "saved"
        self.filled(tmp_path).save_pretrained(saved)
        for i, name in enumerate(store_files(saved)):
            broken = tmp_path / f"copy{i}"
            shutil.copytree(saved, broken)
            data = (broken / name).read_bytes()
            (broken / name).write_bytes(data[: len(data) // 2])
            with pytest.raises(StoreFileError) as error:
                type(self.make_store(tmp_path)).from_pretrained(broken)
            assert name in str(error.value)

    def test_file_from_another_store_refused(self, tmp_path):
        saved, other = tmp_path / "saved", tmp_path / "other"
        self.filled(tmp_path).save_pretrained(saved)
        self.filled(tmp_path, synthetic_entries(self.n_entries, seed=3)).save_pretrained(other)
        swapped = 0
        for i, name in enumerate(store_files(saved)):
            theirs = other / name
            if name == MANIFEST or not theirs.is_file():
                continue  # another store's manifest is refused for the files it lists
            if theirs.read_bytes() == (saved / name).read_bytes():
                continue
            broken = tmp_path / f"copy{i}"
            shutil.copytree(saved, broken)
            shutil.copy(theirs, broken / name)
            with pytest.raises(StoreFileError) as error:
                type(self.make_store(tmp_path)).from_pretrained(broken)
            assert name in str(error.value)
            swapped += 1
        assert swapped, "no data file differs between two stores of different entries"
