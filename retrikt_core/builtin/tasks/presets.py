"""The ``sst2``, ``rte`` and ``cb`` presets over the files in a data folder
(``task.data_dir``, ``--data-dir`` or ``$RETRIKT_DATA_DIR``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.api import (
    DATA_DIR_ENV,
    ConfigError,
    Example,
    Task,
    file_fingerprint,
    option,
    read_rows,
    rows_to_examples,
)


@dataclass
class PresetOptions:
    data_dir: str = option("", f"folder holding the task's folder; default: ${DATA_DIR_ENV}")
    eval_split: str = option("", "split to evaluate on; empty = the preset's dev/val split")
    k_shot: int = option(16, "labelled examples sampled per label for training", minimum=1)
    max_eval: int = option(
        0, "evaluate on a seeded sample of at most this many (0 = all)", minimum=0
    )


@dataclass(frozen=True)
class Preset:
    folder: str
    files: dict[str, str]
    default_eval: str
    text_field: str
    text_pair_field: str
    label_names: tuple[str, ...]
    label_values: tuple[Any, ...]
    verbalizers: tuple[str, ...]
    description: str


class PresetTask(Task):
    """Base of the shared-data presets; subclasses set ``preset``."""

    Options = PresetOptions
    preset: Preset

    def __init__(self, options: PresetOptions | None = None) -> None:
        super().__init__(options)
        p = self.preset
        self.label_names = list(p.label_names)
        self.verbalizers = list(p.verbalizers)
        self.is_pair = bool(p.text_pair_field)
        self.description = p.description
        self.field_names = tuple(f for f in (p.text_field, p.text_pair_field) if f)

    @property
    def eval_split(self) -> str:
        return self.options.eval_split or self.preset.default_eval

    def data_dir(self) -> Path:
        folder = self.options.data_dir or os.environ.get(DATA_DIR_ENV, "")
        if not folder:
            raise ConfigError(
                f"task.data_dir: no data folder for task {self.name!r}; set task.data_dir, "
                f"pass --data-dir, or set {DATA_DIR_ENV} (it must hold {self.preset.folder}/)"
            )
        return Path(folder).expanduser() / self.preset.folder

    def path(self, split: str) -> Path:
        if split not in self.preset.files:
            raise ConfigError(
                f"task.eval_split: task {self.name!r} has no split {split!r}; "
                f"splits: {', '.join(self.preset.files)}"
            )
        return self.data_dir() / self.preset.files[split]

    def check(self) -> None:
        for split in (self.train_split, self.eval_split):
            path = self.path(split)
            if not path.is_file():
                raise ConfigError(f"task.data_dir: {path} not found (task {self.name!r})")

    def load(self, split: str) -> list[Example]:
        path = self.path(split)
        p = self.preset
        return rows_to_examples(
            read_rows(path),
            where=str(path),
            text_field=p.text_field,
            text_pair_field=p.text_pair_field,
            label_field="label",
            label_values=list(p.label_values),
            split=split,
        )

    def fingerprint(self) -> dict[str, Any]:
        return {s: file_fingerprint(self.path(s)) for s in (self.train_split, self.eval_split)}


class SST2Task(PresetTask):
    """SST-2 (GLUE) binary sentiment, from DATA_DIR/sst2/*.tsv."""

    name = "sst2"
    preset = Preset(
        folder="sst2",
        files={"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
        default_eval="dev",
        text_field="sentence",
        text_pair_field="",
        label_names=("negative", "positive"),
        label_values=(0, 1),
        verbalizers=("negative", "positive"),
        description="movie review sentiment",
    )


class RTETask(PresetTask):
    """RTE (SuperGLUE) textual entailment, from DATA_DIR/rte/*.jsonl."""

    name = "rte"
    preset = Preset(
        folder="rte",
        files={"train": "train.jsonl", "val": "val.jsonl"},
        default_eval="val",
        text_field="premise",
        text_pair_field="hypothesis",
        label_names=("entailment", "not_entailment"),
        label_values=("entailment", "not_entailment"),
        verbalizers=("yes", "no"),
        description="does the premise entail the hypothesis",
    )


class CBTask(PresetTask):
    """CommitmentBank (SuperGLUE) 3-way entailment, from DATA_DIR/cb/*.jsonl."""

    name = "cb"
    preset = Preset(
        folder="cb",
        files={"train": "train.jsonl", "val": "val.jsonl"},
        default_eval="val",
        text_field="premise",
        text_pair_field="hypothesis",
        label_names=("entailment", "contradiction", "neutral"),
        label_values=("entailment", "contradiction", "neutral"),
        verbalizers=("yes", "no", "maybe"),
        description="does the premise entail, contradict, or neither the hypothesis",
    )
