"""The ``ray`` executor: shards as a Ray Data dataset, mapped by an actor pool.

Each actor builds the work once (loads the saved teacher through
``from_pretrained``) and then takes shard after shard; results stream back to
the driver, which saves each shard as it arrives, so a run killed mid-stage
keeps every finished shard. An actor that dies is restarted by Ray and its
shard is run again; the driver keeps one result per shard index, so nothing
is dropped or counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from retrikt_core.api import Executor, OptionError, ShardWork, option


@dataclass
class RayOptions:
    address: str = option(
        "", 'Ray cluster to join ("ray://host:10001", "auto"); empty = a local Ray'
    )
    actors: int = option(2, "actors in the pool, each holding its own copy of the model", minimum=1)
    batch_size: int = option(
        1024, "texts per shard to label or encode (each is saved as it finishes)", minimum=1
    )
    cpus_per_actor: float = option(1.0, "CPUs Ray reserves for each actor", minimum=0.0)
    gpus_per_actor: float = option(
        0.0, "GPUs Ray reserves for each actor (1 = one GPU each)", minimum=0.0
    )
    threads_per_actor: int = option(1, "torch threads in each actor", minimum=1)
    local_cpus: int = option(0, "CPUs of a local Ray (0 = all of this machine's)", minimum=0)
    retries: int = option(3, "times Ray restarts a dead actor and reruns its shard", minimum=0)

    def __post_init__(self) -> None:
        if self.address and self.local_cpus:
            raise OptionError("local_cpus", "applies to a local Ray only; leave it 0 with address")


class _Worker:
    """A Ray Data actor: the work set up once, then one shard per call."""

    def __init__(self, work: ShardWork, threads: int) -> None:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:  # work without torch (the built-in teachers)
            pass
        work.setup()
        self.work = work

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = [json.dumps(self.work(json.loads(rows))) for rows in batch["rows"]]
        return {"index": batch["index"], "results": results}


class RayExecutor(Executor):
    """Shards on a Ray actor pool (a local Ray, or a cluster at ``address``)."""

    name = "ray"
    Options = RayOptions

    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        o = self.options
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if o.address:
            kwargs["address"] = o.address
        elif o.local_cpus:
            kwargs["num_cpus"] = o.local_cpus
        ray.init(**kwargs)

    def run(self, work: ShardWork, shards: list[tuple[int, list[dict[str, Any]]]]) -> Iterator:
        if not shards:
            return
        import ray.data

        self._connect()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the stage shows one bar over all shards
        o = self.options
        items = [{"index": i, "rows": json.dumps(rows)} for i, rows in shards]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        mapped = dataset.map_batches(
            _Worker,
            fn_constructor_args=(work, o.threads_per_actor),
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=min(o.actors, len(shards))),
            num_cpus=o.cpus_per_actor,
            num_gpus=o.gpus_per_actor or None,
            max_restarts=o.retries,
            max_task_retries=o.retries,
        )
        for row in mapped.iter_rows():
            yield int(row["index"]), json.loads(row["results"])
