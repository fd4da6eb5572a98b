"""The bm25 store: the shared store contract for both libraries, and the check
that bm25s (with the Okapi weights) ranks and scores as rank-bm25 does."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import rank_bm25
from retrikt_bm25.store import Bm25Store, bm25_terms

from retrikt_core.records import Example, Knowledge
from retrikt_core.testing.store_contract import StoreContract, synthetic_entries


class TestBm25s(StoreContract):
    def make_store(self, tmp_path):
        return Bm25Store(Bm25Store.Options(library="bm25s"))


class TestRankBm25(StoreContract):
    def make_store(self, tmp_path):
        return Bm25Store(Bm25Store.Options(library="rank-bm25"))


def zipf_corpus(n: int, seed: int) -> list[str]:
    """Texts whose word frequencies fall off like natural language's, so that
    a few words occur in over half the documents (negative Okapi idf)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(2000)]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=rng.randint(3, 25))) for _ in range(n)]


def stores_over(texts: list[str]) -> tuple[Bm25Store, Bm25Store]:
    entries = [Knowledge(t, teacher_probs=(1.0,), id=f"d{i}") for i, t in enumerate(texts)]
    fast, reference = (Bm25Store(Bm25Store.Options(library=lib)) for lib in ("bm25s", "rank-bm25"))
    fast.add(entries)
    reference.add(entries)
    return fast, reference


def test_bm25s_ranks_as_rank_bm25():
    texts = zipf_corpus(1500, seed=0)
    fast, reference = stores_over(texts)
    docs = [bm25_terms(Example(t)) for t in texts]
    common = sum(np.mean([f"w{i}" in set(d) for d in docs]) > 0.5 for i in range(5))
    assert common >= 2, "the corpus must hold words whose Okapi idf is floored"
    queries = [Example(t) for t in zipf_corpus(200, seed=1)]
    found, expected = fast.search(queries, 16), reference.search(queries, 16)
    assert found.ids == expected.ids
    for got, want in zip(found.scores, expected.scores, strict=True):
        assert got == pytest.approx(want, rel=1e-5)


def test_scores_are_bm25_okapi():
    texts = ["the cat sat", "the dog sat on the mat", "a bird", "the the the end"]
    fast, reference = stores_over(texts)
    docs = [t.split() for t in texts]
    okapi = rank_bm25.BM25Okapi(docs)  # k1 = 1.5, b = 0.75, epsilon = 0.25, as the store's
    query = "the sat mat"
    want = okapi.get_scores(query.split())
    assert fast.scores(Example(query)) == pytest.approx(want, rel=1e-6)
    assert reference.scores(Example(query)) == pytest.approx(want, rel=1e-12)
    # "mat" by hand: df = 1 of 4 documents; document 1 has 6 words, the mean is 15 / 4.
    idf = math.log((4 - 1 + 0.5) / (1 + 0.5))
    by_hand = idf * 1 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 6 / 3.75))
    assert fast.scores(Example("mat"))[1] == pytest.approx(by_hand, rel=1e-6)


def test_pairs_are_searched_by_both_texts():
    store = Bm25Store()
    store.add(
        [
            Knowledge("a storm hit the coast", "roads were closed", id="p0"),
            Knowledge("the market rallied", "shares rose", id="p1"),
            Knowledge("a quiet afternoon", id="p2"),  # Okapi idf is 0 at df = N / 2
        ]
    )
    assert store.search([Example("closed roads")], 1).ids == [["p0"]]
    assert store.search([Example("x", "shares")], 1).ids == [["p1"]]
    assert bm25_terms(Example("Hello, world!", "Again.")) == ["hello", "world", "again"]


def test_manifest_lists_every_bm25s_file(tmp_path):
    store = Bm25Store()
    store.add(synthetic_entries(50))
    store.save_pretrained(tmp_path)
    manifest = json.loads((tmp_path / "store.json").read_text())
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert set(manifest["sha256"]) == written - {"store.json", "component.json"}
    assert manifest["count"] == 50 and manifest["library"] == "bm25s"


def test_options_mismatching_the_files_are_refused(tmp_path):
    store = Bm25Store()
    store.add(synthetic_entries(20))
    store.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "component.json").read_text())
    meta["options"]["k1"] = 0.9
    (tmp_path / "component.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="store.json: k1 is 1.5, expected 0.9"):
        Bm25Store.from_pretrained(tmp_path)


def test_importing_the_plugin_stays_light():
    code = (
        "import sys, retrikt_bm25\n"
        "print(sorted(m for m in ('bm25s', 'rank_bm25', 'torch', 'faiss') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
