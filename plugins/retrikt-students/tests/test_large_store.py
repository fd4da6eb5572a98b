"""Stores of 100k entries: training-time retrieval is searched a block of
queries at a time, so the memory it takes grows with the queries and the
entries, not with their product."""

from __future__ import annotations

import random
import tracemalloc

import numpy as np
from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions
from test_student_onnx import TASK

from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.records import Example, Knowledge
from retrikt_core.storekit.ranking import inner_product_top_k, top_k

ENTRIES = 100_000
TRAINED = 20_000
MIB = 1 << 20


def synthetic_store(n: int) -> list[Knowledge]:
    """``n`` short texts over a 3,000-word vocabulary; the label follows
    which half of the vocabulary most of an entry's words come from."""
    rng = random.Random(0)
    entries = []
    for i in range(n):
        words = [rng.randrange(3000) for _ in range(6)]
        positive = sum(w >= 1500 for w in words) / len(words)
        text = " ".join(f"w{w}" for w in words)
        entries.append(Knowledge(text, teacher_probs=(1 - positive, positive), id=f"s{i}"))
    return entries


def test_blocked_search_equals_the_whole_score_matrix():
    rng = np.random.default_rng(0)
    keys = rng.integers(-2, 3, size=(300, 8)).astype(np.float32)  # many tied scores
    queries = rng.integers(-2, 3, size=(50, 8)).astype(np.float32)
    whole = queries @ keys.T
    expected = top_k(whole, 7)
    positions, scores = inner_product_top_k(queries, keys, 7, cells=900)  # 3 queries a block
    assert np.array_equal(positions, expected), "ties keep index order across blocks"
    assert np.array_equal(scores, np.take_along_axis(whole, expected, axis=1))


def test_a_student_trains_against_a_100k_store_in_bounded_memory():
    knowledge = synthetic_store(ENTRIES)
    store = MemoryStore(MemoryStoreOptions(dim=64, ngram=1))
    store.add(knowledge)
    retriever = KnnRetriever(KnnRetriever.Options(k=8))
    retriever.bind([store])
    kshot = [Example(knowledge[i].text, label=i % 2, id=f"k{i}") for i in range(8)]
    student = TransformerStudent(
        TransformerStudentOptions(
            train_on=TRAINED,
            vocab_size=3004,
            d_model=16,
            layers=1,
            heads=2,
            ff=32,
            epochs=1,
            batch_size=256,
            max_length=8,
        )
    )
    tracemalloc.start()
    try:
        stats = student.fit(TASK, kshot, knowledge, retriever, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stats["trained_on_entries"] == TRAINED
    # Scoring every trained entry against the store at once would hold
    # 20,008 x 100,000 float32 scores: 7.5 GiB. Blocks hold 16 MiB of scores;
    # the rest is the neighbours kept (8 per query) and the query keys.
    whole_matrix = (TRAINED + len(kshot)) * ENTRIES * 4
    assert peak < 512 * MIB < whole_matrix / 10, f"peak {peak / MIB:.0f} MiB"
    assert 0.0 < stats["lam"] < 1.0
    found = retriever.retrieve(kshot[:2])
    assert all(len(row) == 8 for row in found.ids)
