"""``retrikt bench``: one config run for every combination of a grid of
overrides (x seeds), with the stages the runs have in common computed once.

A bench directory holds::

    BENCH_DIR/runs/<key=value,...>/seed-<n>/   one ordinary run directory per run
    BENCH_DIR/cache/<stage>/<key>/             finished stages, shared by the runs
    BENCH_DIR/bench.json, bench.csv, bench.md  one row per run; mean ± std over seeds
    BENCH_DIR/bench_*.png                      plots (with matplotlib)

Sharing rests on the pipeline's stage keys: a key hashes the config sections a
stage reads, the seed, the output ids of the stages it reads from and the
versions of its components. Before a run computes a stage, the
:class:`StageCache` is asked for a finished copy under the same key; a hit is
copied into the run and recorded in the run's
manifest as finished, with ``reused_from``. Output ids are random per
computation, so the cached manifest record (and its ``output_id``) travels
with the files: downstream keys then match those of the run that computed the
stage, and sharing carries on down the pipeline as far as the configs agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.bench.grid import BenchPlan
from retrikt_core.bench.tables import bench_data, collect_row, write_tables
from retrikt_core.config import ConfigError
from retrikt_core.errors import ArtifactError
from retrikt_core.pipeline import Pipeline, RunDir, RunLock, StageCache
from retrikt_core.plugins import Plugins


@dataclass
class BenchResult:
    plan: BenchPlan
    data: dict[str, Any]  # what bench.json holds: rows per run, summary, stage times
    files: list[str]  # written under the bench directory


class Bench:
    """Runs a :class:`BenchPlan` one run after another, sharing finished stages."""

    def __init__(
        self, plan: BenchPlan, plugins: Plugins, echo: Callable[[str], None] | None = None
    ) -> None:
        self.plan = plan
        self.plugins = plugins
        self.echo = echo or (lambda message: None)
        self.cache = StageCache(plan.bench_dir / "cache")
        self.pipelines = [
            Pipeline(r.config, plugins, r.run_dir, echo=self.echo, stage_cache=self.cache)
            for r in plan.runs
        ]

    def reuse(self, run_dir: str | Path) -> list[str]:
        """Offer the finished stages of a run made outside this bench (``retrikt
        run``, another bench) to the stage cache. A bench run takes such a stage
        only where its own key is the same, that is where the config sections the
        stage reads and the seed agree, so the expensive LLM stages of an
        existing run can be shared by a grid over stores or students. Returns
        the stages offered; raises ``ConfigError`` for a directory that is not a run."""
        run = RunDir(run_dir)
        run_dir = run.path
        if not run.is_run():
            raise ConfigError(f"--reuse {run_dir}: no manifest.json there; not a run directory")
        try:
            stages = run.manifest().get("stages", {})
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--reuse {run_dir}: cannot read manifest.json ({exc})") from None
        offered = []
        for name, record in stages.items():
            stage_dir = run.stage(name)
            if record.get("status") == "finished" and record.get("key") and stage_dir.is_dir():
                try:
                    run.verify(name)
                except ArtifactError as exc:
                    self.echo(f"[yellow]not reused: {exc}[/yellow]")
                    continue
                # put() is a no-op when the cache holds the key already: still offered.
                self.cache.put(name, record["key"], stage_dir, record, run_dir)
                offered.append(name)
        return offered

    def check(self) -> None:
        """The checks ``run`` makes before any work (task files), for every run."""
        for pipeline in self.pipelines:
            pipeline.check()

    def run(self) -> BenchResult:
        """Run (or resume) every run of the plan; write tables after each run
        and plots at the end."""
        from retrikt_core.bench.plots import write_bench_plots, write_markdown

        plan = self.plan
        self.check()
        plan.bench_dir.mkdir(parents=True, exist_ok=True)
        with _bench_lock(plan.bench_dir):
            self.cache.clean()
            rows: list[dict[str, Any]] = []
            data = bench_data(plan, rows)
            total = len(plan.runs)
            for index, (run, pipeline) in enumerate(zip(plan.runs, self.pipelines, strict=True)):
                label = run.label(plan.axes)
                if pipeline.is_complete():
                    self._share(pipeline)
                    self.echo(f"[dim]↷ run {index + 1}/{total} {label}: finished, skipped[/dim]")
                else:
                    self.echo(f"[bold]■ run {index + 1}/{total}[/bold] {label} → {run.run_dir}")
                    pipeline.run()
                rows.append(collect_row(plan, run))
                data = bench_data(plan, rows)
                write_tables(plan.bench_dir, data)
                write_markdown(plan.bench_dir, data, plots=[])
            plots = write_bench_plots(plan.bench_dir, data)
            write_markdown(plan.bench_dir, data, plots=plots)
        files = ["bench.json", "bench.csv", "bench.md", *plots]
        return BenchResult(plan, data, files)

    def _share(self, pipeline: Pipeline) -> None:
        """Offer a finished run's stages to the cache (a no-op for those it has),
        so the cache can be deleted: it refills from the runs."""
        self.reuse(pipeline.run_dir)


def _bench_lock(bench_dir: Path) -> RunLock:
    """One process per bench directory (its runs and cache are written in place)."""
    busy = f"{bench_dir}: another retrikt bench is using this bench directory"
    return RunLock(bench_dir / ".lock", busy=busy)
