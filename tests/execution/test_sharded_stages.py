"""The sharded parts of ``extract`` and ``index``: an LLM-like generator's
requests drawn in seeded chunks, one chunk a shard, and a neural store
encoder's keys computed in shards of whole encoder batches, the same keys as
one ``store.add`` whatever the shard size; a stage cut short draws or
encodes only the shards that had not finished."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.pipeline import runner
from retrikt_core.pipeline.work import chunk_rows
from retrikt_core.records import Example
from retrikt_core.testing.runs import make_pipeline

CHUNKED = ["generator.plugin=template-chunked", "extract.generation_chunk=7"]


def test_a_request_is_cut_into_chunks_with_seeds_of_their_own():
    rows = chunk_rows("generator", 1, 20, seed=5, chunk=7)
    assert [r["n"] for r in rows] == [7, 7, 6]
    assert rows[0]["seed"] == 5, "a request of one chunk is drawn as it was whole"
    assert len({r["seed"] for r in rows}) == 3
    other_label = chunk_rows("generator", 0, 20, seed=4, chunk=7)
    second_source = chunk_rows("second_source", 0, 20, seed=1004, chunk=7)
    seeds = [r["seed"] for r in rows + other_label + second_source]
    assert len(set(seeds)) == len(seeds), "no two chunks of a run share a seed"


# MiniLM keys (a costly encoder, so the run's executor computes them) over a
# flat index, whose file holds the keys as they are.
MINILM = ["store.plugin=faiss", "store.encoder=minilm"]


def outputs(run_dir):
    stages = run_dir / "stages"
    return (
        (stages / "extract" / "knowledge.jsonl").read_bytes(),
        (stages / "index" / "store" / "index.faiss").read_bytes(),
    )


def run(small_run, name, overrides):
    config, run_dir, _ = small_run
    run_dir = run_dir.parent / name
    make_pipeline(config, run_dir, [*CHUNKED, *MINILM, *overrides]).run()
    return run_dir


def test_a_request_larger_than_a_chunk_is_drawn_in_seeded_chunks(small_run):
    knowledge, _ = outputs(run(small_run, "run", []))
    rows = [json.loads(line) for line in knowledge.decode().splitlines()]
    seeds = {row["provenance"]["seed"] for row in rows if row["requested_label"] == 1}
    # 40 samples in chunks of 7: six chunks, the first on the request's seed.
    first = min(seeds)
    assert seeds == {r["seed"] for r in chunk_rows("generator", 1, 40, seed=first, chunk=7)}


def test_keys_are_those_of_one_store_add_whatever_the_shard_size(small_run):
    from retrikt_faiss.store import FaissStore

    from retrikt_core.records import Knowledge

    small = outputs(run(small_run, "small", ["executor.batch_size=5"]))  # shards of 64
    whole = outputs(run(small_run, "whole", []))
    assert small == whole
    entries = [Knowledge.from_dict(json.loads(line)) for line in whole[0].decode().splitlines()]
    assert len(entries) > 64, "more than one shard of keys"
    store = FaissStore(FaissStore.Options(encoder="minilm"))
    store.add(entries)
    store.save_pretrained(small_run[1].parent / "direct")
    assert (small_run[1].parent / "direct" / "index.faiss").read_bytes() == whole[1]


def test_cheap_keys_are_computed_in_place(small_run):
    config, run_dir, _ = small_run
    real = runner.Pipeline.executor
    asked: dict[str, list[int]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            runner.Pipeline, "executor", lambda self: StopAfterFirstShard(real(self), "", asked)
        )
        make_pipeline(config, run_dir, CHUNKED).run()  # the memory store: hashed n-grams
    assert "KeyWork" not in asked and asked["GenerateWork"]
    store = MemoryStore.from_pretrained(run_dir / "stages" / "index" / "store")
    assert store.encode([Example("a film")]).shape == (1, 512) and len(store) > 0


class StopAfterFirstShard:
    """The configured executor, interrupted once it returns a first shard of
    the work named ``stop_in`` (as a kill would, but in-process); every shard
    it is asked to run is counted by work."""

    def __init__(self, executor, stop_in, asked):
        self.executor = executor
        self.shard_rows = executor.shard_rows
        self.stop_in = stop_in
        self.asked = asked

    def run(self, work, shards):
        name = type(work).__name__
        self.asked.setdefault(name, []).append(len(shards))
        for done in self.executor.run(work, shards):
            yield done
            if name == self.stop_in:
                raise KeyboardInterrupt

    def close(self):
        self.executor.close()


@pytest.mark.parametrize(
    ("work", "stage", "folder"),
    [("GenerateWork", "extract", "generation"), ("KeyWork", "index", "store")],
)
def test_a_stage_cut_short_resumes_from_its_finished_shards(
    small_run, monkeypatch, work, stage, folder
):
    expected = outputs(run(small_run, "whole", []))
    real = runner.Pipeline.executor
    asked: dict[str, list[int]] = {}
    monkeypatch.setattr(
        runner.Pipeline, "executor", lambda self: StopAfterFirstShard(real(self), work, asked)
    )
    with pytest.raises(KeyboardInterrupt):
        run(small_run, "cut", ["executor.batch_size=14"])
    config, run_dir, _ = small_run
    shards = run_dir.parent / "cut" / "stages" / f"{stage}.shards" / folder
    assert len(list(shards.glob("shard-*"))) == 1, "the shard that finished was saved"
    first = asked[work][0]
    asked.clear()
    monkeypatch.setattr(
        runner.Pipeline, "executor", lambda self: StopAfterFirstShard(real(self), "", asked)
    )
    resumed = outputs(run(small_run, "cut", ["executor.batch_size=14"]))
    assert asked[work][0] == first - 1, "only the shards that had not finished ran"
    assert resumed[0] == expected[0]
    assert np.array_equal(resumed[1], expected[1])
