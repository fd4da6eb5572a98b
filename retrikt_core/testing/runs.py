"""Tiny end-to-end runs for tests: small labelled sentiment tasks written as
CSV, a small config over the fast built-in components, helpers that validate
a config and build or run its pipeline, and fake installed distributions for
plugin-loading tests."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrikt_core.pipeline import Pipeline

# The shared data folder beside a checkout (SST-2, RTE, CB), unless RETRIKT_DATA_DIR says.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

POS = [
    "a great and moving film",
    "fun , sharp and lovely",
    "warm , bright story",
    "good cast and a good script",
    "the ending is lovely and moving",
]
NEG = [
    "a dull and boring film",
    "awful , messy script",
    "tedious and flat story",
    "bad cast and a weak plot",
    "the ending is dull and tedious",
]

NEGATIVE = ("dull and bad film", "a boring , weak plot", "flat and tedious story")
POSITIVE = ("great and warm film", "a fun , sharp plot", "lovely and moving story")


def _write_splits(folder: Path, sizes: dict[str, int], base) -> dict[str, Path]:
    """``<split>.csv`` with columns text,label, alternating labels (0 negative,
    1 positive); ``base(label, i)`` picks each row's sentence."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in sizes.items():
        path = folder / f"{split}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(n):
                writer.writerow([f"{base(i % 2, i)} {split} {i}", i % 2])
        paths[split] = path
    return paths


def write_sentiment_csv(folder: Path, n_train: int = 12, n_eval: int = 6) -> dict[str, Path]:
    """``train.csv`` / ``eval.csv`` with columns text,label (0 negative, 1 positive)."""
    sizes = {"train": n_train, "eval": n_eval}
    cycle = lambda label, i: (POSITIVE if label else NEGATIVE)[i // 2 % 3]  # noqa: E731
    return _write_splits(folder, sizes, cycle)


def task_section(paths: dict[str, Path], k_shot: int = 3) -> str:
    return f"""
[task]
plugin = "files"
train_file = "{paths["train"]}"
eval_file = "{paths["eval"]}"
label_names = ["negative", "positive"]
k_shot = {k_shot}
"""


def run_config(text: str, run_dir: Path, folder: Path) -> dict[str, Any]:
    """Write ``text`` as a config, validate it with the loaded plugins, run it."""
    from retrikt_core.config import load_toml, validate
    from retrikt_core.pipeline import Pipeline
    from retrikt_core.plugins import get_plugins

    path = folder / "config.toml"
    path.write_text(text)
    plugins = get_plugins()
    return Pipeline(validate(load_toml(path), plugins.registry), plugins, run_dir).run()


def install_entry_points(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Make ``site`` look like an installed distribution with ``retrikt`` entry points."""
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    lines = ["[retrikt]"] + [f"{name} = {module}" for name, module in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def write_sentiment_files(folder: Path, n_train: int = 60, n_eval: int = 30) -> dict[str, Path]:
    """A tiny sentiment task as CSV files (label 0 = negative, 1 = positive)."""
    rng = random.Random(7)
    sizes = {"train": n_train, "eval": n_eval}
    return _write_splits(folder, sizes, lambda label, i: rng.choice(POS if label else NEG))


def write_config(path: Path, data: dict[str, Path], run_dir: Path, extra: str = "") -> Path:
    path.write_text(
        f"""
[run]
seed = 0
run_dir = "{run_dir}"

[task]
plugin = "files"
train_file = "{data["train"]}"
eval_file = "{data["eval"]}"
label_names = ["negative", "positive"]
k_shot = 4

[generator]
plugin = "template"

[teacher]
plugin = "bow-lr"
dim = 1024
epochs = 60

[optimizer]
plugin = "none"

[extract]
n_per_label = 40

[store]
plugin = "memory"
dim = 512

[retriever]
plugin = "knn"
k = 4

[student]
plugin = "bow-knn"
dim = 512
epochs = 40
{extra}
"""
    )
    return path


def shared_data_or_skip(task: str) -> Path:
    import pytest

    folder = Path(os.environ.get("RETRIKT_DATA_DIR", SHARED_DATA))
    if not (folder / task).is_dir():
        pytest.skip(f"shared data for {task!r} not found at {folder} (set RETRIKT_DATA_DIR)")
    return folder


def make_pipeline(config_path: Path, run_dir: Path, overrides=()) -> Pipeline:
    """The pipeline of a config file (with ``section.key=value`` overrides)."""
    from retrikt_core.config import apply_overrides, load_toml, validate
    from retrikt_core.pipeline import Pipeline
    from retrikt_core.plugins import get_plugins

    plugins = get_plugins()
    raw = apply_overrides(load_toml(config_path), list(overrides))
    return Pipeline(validate(raw, plugins.registry, source=str(config_path)), plugins, run_dir)


# The run every component section of which is a fast built-in (no LLM, no
# torch): knowledge is the task's own unlabelled train split.
FAST_COMPONENTS = """
[generator]
plugin = "corpus"

[teacher]
plugin = "bow-lr"
dim = 512
epochs = 40

[optimizer]
plugin = "none"

[extract]
n_total = {n_total}

[store]
plugin = "memory"
dim = 256

[retriever]
plugin = "knn"
k = 4

[student]
plugin = "bow-knn"
dim = 256
epochs = 20
"""


def fast_config(task: str, n_total: int = 8) -> str:
    """A whole config: ``task`` (a ``[task]`` section) and the fast built-ins."""
    return task.rstrip() + "\n" + FAST_COMPONENTS.format(n_total=n_total)
