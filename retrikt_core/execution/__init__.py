"""Running a stage's parallel work over shards, on an executor.

The heavy parts of a run (teacher-labelling thousands of texts) are cut into
shards of rows; an :class:`Executor` (``local`` in this process, ``ray`` over a
pool of actors, or a third party's) applies a :class:`ShardWork` to each. What
the pipeline keeps is independent of the executor: shards are cut the same
way whatever runs them, each finished shard is written to disk as it arrives
(:class:`ShardFolder`), and a stage cut short resumes from the finished ones.
"""

from retrikt_core.execution.executor import Executor, ShardWork
from retrikt_core.execution.shards import ShardFolder, run_sharded

__all__ = ["Executor", "ShardFolder", "ShardWork", "run_sharded"]
