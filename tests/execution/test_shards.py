"""Shard resume: finished shards are reused, stale or damaged ones are not,
and an executor that loses or mangles a shard is an error, not a short run."""

from __future__ import annotations

import pytest

from retrikt_core.builtin.local_executor import LocalExecutor, LocalOptions
from retrikt_core.errors import PipelineError
from retrikt_core.execution import ShardFolder, ShardWork, run_sharded


class Squares(ShardWork):
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.setups = 0

    def setup(self) -> None:
        self.setups += 1

    def __call__(self, rows):
        self.seen += [row["x"] for row in rows]
        return [row["x"] ** 2 for row in rows]


ROWS = [{"x": x} for x in range(10)]


def run(folder, work=None, executor=None):
    work = work or Squares()
    executor = executor or LocalExecutor(LocalOptions())
    return run_sharded(executor, work, ROWS, 4, folder, "squares"), work


def test_results_come_back_in_row_order_and_each_shard_is_saved(tmp_path):
    out, work = run(ShardFolder(tmp_path, "k"))
    assert out == [x * x for x in range(10)]
    assert work.setups == 1
    assert sorted(p.name for p in tmp_path.glob("shard-*")) == [
        "shard-00000.json",
        "shard-00001.json",
        "shard-00002.json",
    ]


def test_finished_shards_are_reused_and_only_the_others_run(tmp_path):
    run(ShardFolder(tmp_path, "k"))
    (tmp_path / "shard-00001.json").unlink()
    out, work = run(ShardFolder(tmp_path, "k"))
    assert out == [x * x for x in range(10)]
    assert work.seen == [4, 5, 6, 7]


def test_nothing_left_to_run_sets_nothing_up(tmp_path):
    run(ShardFolder(tmp_path, "k"))
    out, work = run(ShardFolder(tmp_path, "k"))
    assert out == [x * x for x in range(10)] and work.setups == 0


def test_shards_of_other_inputs_are_discarded(tmp_path):
    run(ShardFolder(tmp_path, "k"))
    _, work = run(ShardFolder(tmp_path, "other"))
    assert work.seen == list(range(10))


@pytest.mark.parametrize("damage", ["{not json", '{"rows": 4, "results": [1]}', "[]"])
def test_a_damaged_shard_is_computed_again(tmp_path, damage):
    run(ShardFolder(tmp_path, "k"))
    (tmp_path / "shard-00000.json").write_text(damage)
    out, work = run(ShardFolder(tmp_path, "k"))
    assert out == [x * x for x in range(10)]
    assert work.seen == [0, 1, 2, 3]


class Losing(LocalExecutor):
    def run(self, work, shards):
        for index, rows in shards[:-1]:
            yield index, work(rows)


class Mangling(LocalExecutor):
    def run(self, work, shards):
        for index, rows in shards:
            yield index, work(rows)[:-1]


@pytest.mark.parametrize(
    ("executor", "message"),
    [(Losing, "finished without shards"), (Mangling, "came back with 3 results for 4 rows")],
)
def test_an_executor_that_loses_or_mangles_a_shard_is_an_error(tmp_path, executor, message):
    with pytest.raises(PipelineError, match=message):
        run(ShardFolder(tmp_path, "k"), executor=executor(LocalOptions()))
