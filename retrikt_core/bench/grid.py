"""The grid of a bench: ``section.key=v1,v2`` axes, seeds, and the plan of
runs (one validated config and run directory per combination and seed)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from retrikt_core.plugins import Registry, UnknownComponentError


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
