"""Tiny end-to-end runs for plugin tests: a small labelled sentiment task
written as CSV, and a helper that validates a config and runs the pipeline."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

NEGATIVE = ("dull and bad film", "a boring , weak plot", "flat and tedious story")
POSITIVE = ("great and warm film", "a fun , sharp plot", "lovely and moving story")


def write_sentiment_csv(folder: Path, n_train: int = 12, n_eval: int = 6) -> dict[str, Path]:
    """``train.csv`` / ``eval.csv`` with columns text,label (0 negative, 1 positive)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in (("train", n_train), ("eval", n_eval)):
        path = folder / f"{split}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            for i in range(n):
                label = i % 2
                base = (POSITIVE if label else NEGATIVE)[i // 2 % 3]
                writer.writerow([f"{base} {split} {i}", label])
        paths[split] = path
    return paths


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
