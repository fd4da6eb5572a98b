"""Shared fixtures: small task files written by the tests, and the testkit
plugins installed through a real entry point (a dist-info on sys.path)."""

from __future__ import annotations

import csv
import os
import random
import shutil
import sys
from pathlib import Path

import pytest

from retrikt_core.config import apply_overrides, load_toml, validate
from retrikt_core.pipeline import Pipeline
from retrikt_core.plugins import get_plugins, reset_plugins

TESTKIT = Path(__file__).parent / "testkit"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

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


def install_entry_points(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """Make ``site`` look like an installed distribution with ``retrikt`` entry points."""
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    lines = ["[retrikt]"] + [f"{name} = {module}" for name, module in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def testkit_site(tmp_path, monkeypatch):
    """The testkit (and a broken plugin) installed via entry points, importable
    in-process and by subprocesses (PYTHONPATH)."""
    site = tmp_path / "site"
    site.mkdir()
    for module in ("retrikt_testkit.py", "retrikt_broken.py"):
        shutil.copy(TESTKIT / module, site / module)
    install_entry_points(site, "retrikt-testkit", {"testkit": "retrikt_testkit"})
    install_entry_points(site, "retrikt-broken", {"broken": "retrikt_broken"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RETRIKT_TEST_LOG", str(tmp_path / "events.log"))
    reset_plugins()
    yield site
    reset_plugins()
    for name in ("retrikt_testkit", "retrikt_broken"):
        sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.delenv("RETRIKT_LOAD_PLUGINS", raising=False)
    reset_plugins()


def write_sentiment_files(folder: Path, n_train: int = 60, n_eval: int = 30) -> dict[str, Path]:
    """A tiny sentiment task as CSV files (label 0 = negative, 1 = positive)."""
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in (("train", n_train), ("eval", n_eval)):
        path = folder / f"{split}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(n):
                label = i % 2
                base = rng.choice(POS if label else NEG)
                writer.writerow([f"{base} {split} {i}", label])
        paths[split] = path
    return paths


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


@pytest.fixture
def small_run(tmp_path, testkit_site):
    """(config path, run dir, events log) for a tiny end-to-end run."""
    data = write_sentiment_files(tmp_path / "data")
    run_dir = tmp_path / "run"
    config = write_config(tmp_path / "config.toml", data, run_dir)
    return config, run_dir, tmp_path / "events.log"


def shared_data_or_skip(task: str) -> Path:
    folder = Path(os.environ.get("RETRIKT_DATA_DIR", SHARED_DATA))
    if not (folder / task).is_dir():
        pytest.skip(f"shared data for {task!r} not found at {folder} (set RETRIKT_DATA_DIR)")
    return folder


def make_pipeline(config_path: Path, run_dir: Path, overrides=()) -> Pipeline:
    plugins = get_plugins()
    raw = apply_overrides(load_toml(config_path), list(overrides))
    return Pipeline(validate(raw, plugins.registry, source=str(config_path)), plugins, run_dir)
