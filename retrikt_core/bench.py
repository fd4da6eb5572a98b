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
hard-linked into the run (copied where links fail) and recorded in the run's
manifest as finished, with ``reused_from``. Output ids are random per
computation, so the cached manifest record (and its ``output_id``) travels
with the files: downstream keys then match those of the run that computed the
stage, and sharing carries on down the pipeline as far as the configs agree.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import shutil
import statistics
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text, commit_directory
from retrikt_core.config import (
    ConfigError,
    RunConfig,
    RunOptions,
    apply_overrides,
    build_options,
    load_toml,
    parse_override,
    stable_hash,
    validate,
)
from retrikt_core.plugins import Plugins
from retrikt_core.registry import Registry, UnknownComponentError

METRIC_FIELDS = ("accuracy", "macro_f1", "params", "examples_per_s")
ENTRY = "entry.json"


# --- the grid ---------------------------------------------------------------


@dataclass(frozen=True)
class GridAxis:
    """One ``--grid section.key=v1,v2`` flag: the key and its values, as typed
    (``texts``) and as read (TOML values, like ``--set``)."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


def split_values(text: str) -> list[str]:
    """Split on commas that are not inside quotes, ``[...]`` or ``{...}``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote: str | None = None
    for char in text:
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse_grid(text: str) -> GridAxis:
    """``section.key=v1,v2,...`` -> :class:`GridAxis`; values are read like ``--set``."""
    if "=" not in text:
        raise ConfigError(f"--grid {text!r}: expected section.key=value1,value2,...")
    target, raw = text.split("=", 1)
    target = target.strip()
    if target.count(".") != 1 or not all(target.split(".")):
        raise ConfigError(f"--grid {text!r}: expected section.key=..., got key {target!r}")
    if target == "run.seed":
        raise ConfigError("--grid run.seed: give seeds with --seeds")
    if target == "run.run_dir":
        raise ConfigError("--grid run.run_dir: a bench places its runs under BENCH_DIR/runs")
    texts = split_values(raw)
    if any(not t for t in texts):
        raise ConfigError(f"--grid {text!r}: empty value")
    repeated = sorted({t for t in texts if texts.count(t) > 1})
    if repeated:
        raise ConfigError(f"--grid {target}: value {repeated[0]!r} is given twice")
    values = tuple(parse_override(f"{target}={t}")[2] for t in texts)
    return GridAxis(target, tuple(texts), values)


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected comma-separated integers") from None
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(f"--seeds {text!r}: seed {repeated[0]} is given twice")
    return seeds


def _slug(text: str) -> str:
    """A file-name-safe form of a grid value; a hash keeps altered ones distinct."""
    safe = re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-")[:40]
    if safe != text:
        safe = f"{safe}-{stable_hash(text)[:6]}".lstrip("-")
    return safe


@dataclass
class BenchRun:
    """One run of a bench: a grid combination and a seed, with its validated config."""

    combo: tuple[str, ...]  # the grid values as typed, in axis order
    grid: dict[str, Any]  # key -> value as read
    seed: int
    config: RunConfig
    run_dir: Path

    def label(self, axes: list[GridAxis]) -> str:
        parts = [f"{a.key}={t}" for a, t in zip(axes, self.combo, strict=True)]
        return " ".join(parts + [f"seed={self.seed}"])


@dataclass
class BenchPlan:
    """Every run of a bench, validated before any of them starts."""

    config_path: Path
    bench_dir: Path
    axes: list[GridAxis]
    seeds: list[int]
    overrides: list[str]
    runs: list[BenchRun] = field(default_factory=list)

    def combos(self) -> list[tuple[str, ...]]:
        return list(itertools.product(*(a.texts for a in self.axes)))

    def combo_label(self, combo: tuple[str, ...]) -> str:
        return ", ".join(f"{a.key}={t}" for a, t in zip(self.axes, combo, strict=True)) or "base"


def plan_bench(
    config_path: str | Path,
    grid: list[str],
    registry: Registry,
    seeds: str | list[int] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    bench_dir: str | Path | None = None,
) -> BenchPlan:
    """Expand the grid (x seeds) and validate every run's config, or raise a
    :class:`ConfigError` naming each failing run and ``section.key``."""
    config_path = Path(config_path)
    overrides = list(overrides)
    axes = [parse_grid(text) for text in grid]
    keys = [a.key for a in axes]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"--grid {key}: given twice; list all its values in one flag")
    set_keys = {".".join(parse_override(text)[:2]) for text in overrides}
    for key in keys:
        if key in set_keys:
            raise ConfigError(f"--grid {key}: also given with --set; give it in one place")
    if seeds is not None and "run.seed" in set_keys:
        raise ConfigError("--seeds and --set run.seed: give the seeds in one place")
    raw = load_toml(config_path)
    # Only [run] is read from the config as given: the grid may be what makes
    # the other sections valid (a store plugin and its options, say).
    run_options = build_options("run", RunOptions, apply_overrides(raw, overrides).get("run", {}))
    seed_list = parse_seeds(seeds) if isinstance(seeds, str) else seeds
    seed_list = list(seed_list) if seed_list is not None else [run_options.seed]
    if not seed_list:
        raise ConfigError("--seeds: no seeds given")
    bench_dir = Path(bench_dir) if bench_dir is not None else Path(f"{run_options.run_dir}-bench")
    plan = BenchPlan(config_path, bench_dir, axes, seed_list, overrides)
    errors: dict[str, list[str]] = {}  # message -> the runs that have it
    for combo in plan.combos():
        grid_overrides = [f"{a.key}={t}" for a, t in zip(axes, combo, strict=True)]
        folder = ",".join(f"{a.key}={_slug(t)}" for a, t in zip(axes, combo, strict=True)) or "base"
        for seed in seed_list:
            texts = overrides + grid_overrides + [f"run.seed={seed}"]
            label = " ".join(grid_overrides + [f"seed={seed}"])
            try:
                config = validate(apply_overrides(raw, texts), registry, source=str(config_path))
            except (ConfigError, UnknownComponentError) as exc:
                errors.setdefault(str(exc), []).append(label)
                continue
            run_dir = bench_dir / "runs" / folder / f"seed-{seed}"
            config.run.run_dir = str(run_dir)
            grid_values = {a.key: v for a, v in zip(axes, _values(axes, combo), strict=True)}
            plan.runs.append(BenchRun(combo, grid_values, seed, config, run_dir))
    if errors:
        total = len(plan.combos()) * len(seed_list)
        if not plan.runs and len(errors) == 1:  # every run, one problem: say it as `run` does
            raise ConfigError(next(iter(errors)))
        failing = sum(len(labels) for labels in errors.values())
        lines = [f"{'; '.join(labels)}: {message}" for message, labels in errors.items()]
        raise ConfigError(
            f"{failing} of {total} bench runs have an invalid config:\n" + "\n".join(lines)
        )
    return plan


def _values(axes: list[GridAxis], combo: tuple[str, ...]) -> list[Any]:
    return [a.values[a.texts.index(t)] for a, t in zip(axes, combo, strict=True)]


# --- the stage cache ----------------------------------------------------------


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def link_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree, hard-linking files where the file system allows.

    Safe because a finished stage directory is never written in place: stages
    write into ``<stage>.partial`` and replace the whole directory by renaming.
    """
    shutil.copytree(src, dst, copy_function=_link_or_copy)


class StageCache:
    """Finished stage outputs by stage and key, shared by the runs of a bench.

    ``CACHE/<stage>/<key>/output/`` holds the stage directory and
    ``CACHE/<stage>/<key>/entry.json`` its manifest record and the run that
    computed it; an entry appears by a single rename, so it is whole or absent.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def has(self, stage: str, key: str) -> bool:
        return (self.entry(stage, key) / ENTRY).is_file()

    def fetch(self, stage: str, key: str, dest: Path) -> dict[str, Any] | None:
        """Put the cached output for ``key`` at ``dest`` and return its manifest
        record (with ``reused_from``); ``None`` when the cache has none."""
        entry = self.entry(stage, key)
        if not (entry / ENTRY).is_file():
            return None
        meta = json.loads((entry / ENTRY).read_text())
        partial = dest.with_name(dest.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        link_tree(entry / "output", partial)
        commit_directory(partial, dest)
        return {**meta["record"], "reused_from": meta["run_dir"]}

    def put(self, stage: str, key: str, src: Path, record: dict[str, Any], run_dir: Path) -> bool:
        """Add a finished stage directory under ``key``; ``False`` if already there."""
        entry = self.entry(stage, key)
        if (entry / ENTRY).is_file():
            return False
        if entry.exists():  # left by something other than put(): not trusted
            shutil.rmtree(entry)
        origin = record.get("reused_from", str(run_dir))
        record = {k: v for k, v in record.items() if k != "reused_from"}
        tmp = entry.with_name(f".{key}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            link_tree(src, tmp / "output")
            meta = {"stage": stage, "key": key, "run_dir": origin, "record": record}
            atomic_write_json(tmp / ENTRY, meta, sort_keys=False)
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if (entry / ENTRY).is_file():
                return False
            raise
        return True

    def clean(self) -> None:
        """Remove entries a killed process left half-written."""
        for tmp in self.root.glob("*/.*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


# --- running ------------------------------------------------------------------


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
        from retrikt_core.pipeline import Pipeline

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
        run_dir = Path(run_dir)
        manifest = run_dir / "manifest.json"
        if not manifest.is_file():
            raise ConfigError(f"--reuse {run_dir}: no manifest.json there; not a run directory")
        try:
            stages = json.loads(manifest.read_text()).get("stages", {})
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--reuse {run_dir}: cannot read manifest.json ({exc})") from None
        offered = []
        for name, record in stages.items():
            stage_dir = run_dir / "stages" / name
            if record.get("status") == "finished" and record.get("key") and stage_dir.is_dir():
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
        from retrikt_core.bench_report import write_bench_plots, write_markdown

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
                if run_is_complete(pipeline):
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

    def _share(self, pipeline: Any) -> None:
        """Offer a finished run's stages to the cache (a no-op for those it has),
        so the cache can be deleted: it refills from the runs."""
        self.reuse(pipeline.run_dir)


@contextlib.contextmanager
def _bench_lock(bench_dir: Path) -> Iterator[None]:
    """One process per bench directory (its runs and cache are written in place)."""
    from retrikt_core.pipeline import PipelineError, _RunLock

    lock = _RunLock(bench_dir / ".lock")
    try:
        lock.__enter__()
    except PipelineError:
        raise PipelineError(
            f"{bench_dir}: another retrikt bench is using this bench directory"
        ) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def run_is_complete(pipeline: Any) -> bool:
    """Whether every stage of a run is finished under its current key and the
    run's ``metrics.json`` is the one its ``evaluate`` stage wrote."""
    from retrikt_core import pipeline as pipeline_module

    run_dir = pipeline.run_dir
    metrics = run_dir / "metrics.json"
    evaluated = run_dir / "stages" / "evaluate" / "metrics.json"
    if not (metrics.is_file() and evaluated.is_file()):
        return False
    manifest = pipeline.manifest()
    for stage in pipeline_module.STAGES:
        record = manifest["stages"].get(stage.name, {})
        if (
            record.get("status") != "finished"
            or record.get("key") != pipeline.stage_key(stage, manifest)
            or not (run_dir / "stages" / stage.name).is_dir()
        ):
            return False
    return json.loads(metrics.read_text()) == json.loads(evaluated.read_text())


# --- results ------------------------------------------------------------------


def collect_row(plan: BenchPlan, run: BenchRun) -> dict[str, Any]:
    """One finished run as a row: grid values, seed, metrics per method, stage times."""
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    stages = manifest["stages"]
    try:
        run_dir = str(run.run_dir.relative_to(plan.bench_dir))
    except ValueError:
        run_dir = str(run.run_dir)
    return {
        "run": run.label(plan.axes),
        "run_dir": run_dir,
        "combo": plan.combo_label(run.combo),
        "grid": run.grid,
        "seed": run.seed,
        "task": metrics["task"],
        "config_hash": run.config.config_hash(),
        "eval_examples": metrics.get("eval_examples"),
        "methods": {
            method: {f: row.get(f) for f in METRIC_FIELDS}
            for method, row in metrics["methods"].items()
        },
        "stage_seconds": {name: r.get("seconds") for name, r in stages.items()},
        "reused_stages": [name for name, r in stages.items() if "reused_from" in r],
        "computed_seconds": round(
            sum(r.get("seconds") or 0 for r in stages.values() if "reused_from" not in r), 3
        ),
    }


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def summarize(plan: BenchPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid combination and method: mean (and std, with two seeds or more)
    of each metric over the seeds that have finished."""
    summary = []
    for combo in plan.combos():
        label = plan.combo_label(combo)
        group = [r for r in rows if r["combo"] == label]
        if not group:
            continue
        methods = list(dict.fromkeys(m for r in group for m in r["methods"]))
        for method in methods:
            present = [r for r in group if method in r["methods"]]
            entry: dict[str, Any] = {
                "combo": label,
                "grid": group[0]["grid"],
                "method": method,
                "seeds": [r["seed"] for r in present],
            }
            for f in METRIC_FIELDS:
                values = [r["methods"][method][f] for r in present]
                values = [v for v in values if isinstance(v, int | float)]
                entry[f"{f}_mean"], entry[f"{f}_std"] = _mean_std(values)
            summary.append(entry)
    return summary


def stage_summary(plan: BenchPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid combination: mean seconds of each stage over seeds, and how many
    of the runs reused each stage rather than computing it."""
    out = []
    for combo in plan.combos():
        label = plan.combo_label(combo)
        group = [r for r in rows if r["combo"] == label]
        if not group:
            continue
        names = list(dict.fromkeys(n for r in group for n in r["stage_seconds"]))
        out.append(
            {
                "combo": label,
                "runs": len(group),
                "seconds": {
                    n: statistics.fmean(r["stage_seconds"].get(n) or 0 for r in group)
                    for n in names
                },
                "reused": {n: sum(n in r["reused_stages"] for r in group) for n in names},
                "computed_seconds": statistics.fmean(r["computed_seconds"] for r in group),
            }
        )
    return out


def bench_data(plan: BenchPlan, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "config": str(plan.config_path),
        "overrides": plan.overrides,
        "grid": {a.key: list(a.values) for a in plan.axes},
        "seeds": plan.seeds,
        "runs_planned": len(plan.runs),
        "runs_finished": len(rows),
        "runs": rows,
        "summary": summarize(plan, rows),
        "stages": stage_summary(plan, rows),
    }


def csv_text(data: dict[str, Any]) -> str:
    """``bench.csv``: the rows of ``bench.json`` flattened, one line per run."""
    rows = data["runs"]
    methods = list(dict.fromkeys(m for r in rows for m in r["methods"]))
    stages = list(dict.fromkeys(s for r in rows for s in r["stage_seconds"]))
    header = ["run", *data["grid"], "seed"]
    header += [f"{m}.{f}" for m in methods for f in METRIC_FIELDS]
    header += [f"seconds.{s}" for s in stages] + ["computed_seconds", "reused_stages", "run_dir"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        line = [r["run"], *(_cell(r["grid"][k]) for k in data["grid"]), r["seed"]]
        line += [r["methods"].get(m, {}).get(f, "") for m in methods for f in METRIC_FIELDS]
        line += [r["stage_seconds"].get(s, "") for s in stages]
        line += [r["computed_seconds"], " ".join(r["reused_stages"]), r["run_dir"]]
        writer.writerow(line)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def write_tables(bench_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_json(bench_dir / "bench.json", data, sort_keys=False)
    atomic_write_text(bench_dir / "bench.csv", csv_text(data))
