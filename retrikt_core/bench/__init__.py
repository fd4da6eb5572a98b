"""``retrikt bench``: one config run for every combination of a grid of
overrides (x seeds), sharing the stages the runs have in common through a
:class:`~retrikt_core.pipeline.StageCache`; tables and plots of the results."""

from retrikt_core.bench.grid import (
    BenchPlan,
    BenchRun,
    GridAxis,
    parse_grid,
    parse_seeds,
    plan_bench,
    split_values,
)
from retrikt_core.bench.runner import Bench, BenchResult
from retrikt_core.bench.tables import METRIC_FIELDS, bench_data, collect_row, summarize

__all__ = [
    "METRIC_FIELDS",
    "Bench",
    "BenchPlan",
    "BenchResult",
    "BenchRun",
    "GridAxis",
    "bench_data",
    "collect_row",
    "parse_grid",
    "parse_seeds",
    "plan_bench",
    "split_values",
    "summarize",
]
