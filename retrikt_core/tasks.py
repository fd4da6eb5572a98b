"""Tasks over local CSV/TSV/JSONL files or a ``datasets`` hub dataset, and the
``sst2`` / ``rte`` / ``cb`` presets over the files in ``shared/data``.

Files are read through ``datasets`` (imported only when a task loads data).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrikt_core.config import ConfigError, option
from retrikt_core.interfaces import Task
from retrikt_core.records import Example
from retrikt_core.storefiles import sha256_file

DATA_DIR_ENV = "RETRIKT_DATA_DIR"


class TaskDataError(ValueError):
    """Task data that cannot be read as configured (names the file and field)."""


def read_rows(path: Path, fmt: str = "auto") -> list[dict[str, Any]]:
    """Rows of a CSV, TSV or JSONL file as dicts, read with ``datasets``."""
    if not path.is_file():
        raise TaskDataError(f"{path}: file not found")
    if fmt == "auto":
        suffix = path.suffix.lower()
        fmt = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix, "")
        if not fmt:
            raise TaskDataError(f"{path}: cannot tell the format; set format = csv, tsv or jsonl")
    import datasets

    datasets.disable_progress_bars()
    if fmt in ("csv", "tsv"):
        # QUOTE_NONE and no NA parsing: sentences keep their quotes and words like "null".
        dataset = datasets.load_dataset(
            "csv",
            data_files=str(path),
            split="train",
            delimiter="\t" if fmt == "tsv" else ",",
            quoting=3 if fmt == "tsv" else 0,
            keep_default_na=False,
            na_filter=False,
        )
    elif fmt == "jsonl":
        dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    else:
        raise TaskDataError(f"{path}: unknown format {fmt!r}; use csv, tsv or jsonl")
    return dataset.to_list()


def rows_to_examples(
    rows: list[dict[str, Any]],
    *,
    where: str,
    text_field: str,
    text_pair_field: str,
    label_field: str,
    label_values: list[Any],
    split: str,
) -> list[Example]:
    """Map raw rows to :class:`Example` with label indices; errors name the field."""
    if rows:
        for name in (text_field, text_pair_field, label_field):
            if name and name not in rows[0]:
                raise TaskDataError(
                    f"{where}: no field {name!r}; fields are {', '.join(map(str, rows[0]))}"
                )
    index = {str(v): i for i, v in enumerate(label_values)}
    examples = []
    for i, row in enumerate(rows):
        raw = row.get(label_field) if label_field else None
        label = None
        if raw is not None and raw != "":
            label = index.get(str(raw))
            if label is None:
                raise TaskDataError(
                    f"{where}: row {i}: field {label_field!r} has value {raw!r}; "
                    f"expected one of {', '.join(map(str, label_values))}"
                )
        examples.append(
            Example(
                text=str(row[text_field]).strip(),
                text_pair=str(row[text_pair_field]).strip() if text_pair_field else None,
                label=label,
                id=f"{split}-{i}",
            )
        )
    return examples


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a data file: what it holds, not where or when it was
    written, so a copied, moved or restored dataset keeps its prepared stages
    (and the hours of LLM stages keyed on them)."""
    stat = path.stat()
    digest = _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return {"size": stat.st_size, "sha256": digest}


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and time too, so a rewritten file is read again; a bench
    # keys every run's stages and would otherwise hash the same data each time.
    return sha256_file(Path(path))


def sample_eval(examples: list[Example], limit: int, seed: int) -> list[Example]:
    """A seeded subset of at most ``limit`` examples, in file order (0 = all)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def describe_from_options(task: Task) -> None:
    """Labels, verbalizers and fields of a task configured entirely by options."""
    o = task.options
    task.label_names = list(o.label_names)
    task.verbalizers = list(o.verbalizers) or list(o.label_names)
    task.is_pair = bool(o.text_pair_field)
    task.description = o.description
    task.field_names = tuple(f for f in (o.text_field, o.text_pair_field) if f)


@dataclass
class FilesTaskOptions:
    train_file: str = option("", "labelled training file (CSV, TSV or JSONL)")
    eval_file: str = option("", "labelled evaluation file")
    label_names: list[str] = option([], "label names, in label-index order")
    format: str = option("auto", "csv, tsv, jsonl, or auto (from the file suffix)")
    text_field: str = option("text", "field holding the text (or the premise of a pair)")
    text_pair_field: str = option("", "field holding the second text of a pair; empty = single")
    label_field: str = option("label", "field holding the label")
    label_values: list[str] = option(
        [], "raw label values in label order; default: indices 0..n-1 or the label names"
    )
    verbalizers: list[str] = option([], "one word per label for LLM prompts; default: names")
    description: str = option("", "what the task is, in a few words (used in prompts)")
    k_shot: int = option(16, "labelled examples sampled per label for training")
    max_eval: int = option(0, "evaluate on a seeded sample of at most this many (0 = all)")


class FilesTask(Task):
    """Any labelled CSV/TSV/JSONL files, single sentences or sentence pairs."""

    name = "files"
    Options = FilesTaskOptions

    def __init__(self, options: FilesTaskOptions | None = None) -> None:
        super().__init__(options)
        describe_from_options(self)

    @property
    def train_split(self) -> str:
        return "train"

    @property
    def eval_split(self) -> str:
        return "eval"

    def files(self) -> dict[str, Path]:
        return {"train": Path(self.options.train_file), "eval": Path(self.options.eval_file)}

    def check(self) -> None:
        o = self.options
        if len(o.label_names) < 2:
            raise ConfigError("task.label_names: give at least two label names")
        if o.verbalizers and len(o.verbalizers) != len(o.label_names):
            raise ConfigError("task.verbalizers: need one word per label name")
        for split, path in self.files().items():
            key = f"task.{split}_file"
            if not str(path) or str(path) == ".":
                raise ConfigError(f"{key}: required; the path of the {split} file")
            if not path.is_file():
                raise ConfigError(f"{key}: file not found: {path}")

    def _label_values(self) -> list[Any]:
        o = self.options
        return list(o.label_values) if o.label_values else list(o.label_names)

    def load(self, split: str) -> list[Example]:
        files = self.files()
        if split not in files:
            raise TaskDataError(f"task {self.name!r}: no split {split!r}; splits: train, eval")
        path = files[split]
        rows = read_rows(path, self.options.format)
        values = self._label_values()
        # Integer label columns (0, 1, ...) map by index unless values say otherwise.
        if (
            not self.options.label_values
            and rows
            and _is_int_like(rows[0].get(self.options.label_field))
        ):
            values = list(range(len(self.label_names)))
        return rows_to_examples(
            rows,
            where=str(path),
            text_field=self.options.text_field,
            text_pair_field=self.options.text_pair_field,
            label_field=self.options.label_field,
            label_values=values,
            split=split,
        )

    def fingerprint(self) -> dict[str, Any]:
        return {split: file_fingerprint(p) for split, p in self.files().items() if p.is_file()}


def _is_int_like(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        or (isinstance(value, str) and value.strip().lstrip("-").isdigit())
    )


@dataclass
class PresetOptions:
    data_dir: str = option("", f"folder holding the task's folder; default: ${DATA_DIR_ENV}")
    eval_split: str = option("", "split to evaluate on; empty = the preset's dev/val split")
    k_shot: int = option(16, "labelled examples sampled per label for training")
    max_eval: int = option(0, "evaluate on a seeded sample of at most this many (0 = all)")


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


@dataclass
class HubTaskOptions:
    dataset: str = option("", "dataset name on the Hugging Face hub, e.g. 'glue'")
    subset: str = option("", "dataset config, e.g. 'sst2'")
    train_split: str = option("train", "split to sample k-shot examples from")
    eval_split: str = option("validation", "split to evaluate on")
    text_field: str = option("sentence", "field holding the text")
    text_pair_field: str = option("", "second text of a pair; empty = single")
    label_field: str = option("label", "field holding the label (class index)")
    label_names: list[str] = option([], "label names, in label-index order")
    verbalizers: list[str] = option([], "one word per label; default: names")
    description: str = option("", "what the task is, in a few words")
    k_shot: int = option(16, "labelled examples sampled per label")
    max_eval: int = option(0, "evaluate on at most this many (0 = all)")


class HubTask(Task):
    """A dataset from the Hugging Face hub through ``datasets`` (needs a network)."""

    name = "hub"
    Options = HubTaskOptions

    def __init__(self, options: HubTaskOptions | None = None) -> None:
        super().__init__(options)
        describe_from_options(self)

    def check(self) -> None:
        if not self.options.dataset:
            raise ConfigError("task.dataset: required; a dataset name on the hub")
        if len(self.options.label_names) < 2:
            raise ConfigError("task.label_names: give at least two label names")

    def load(self, split: str) -> list[Example]:
        import datasets

        o = self.options
        dataset = datasets.load_dataset(o.dataset, o.subset or None, split=split)
        return rows_to_examples(
            dataset.to_list(),
            where=f"{o.dataset}/{o.subset}:{split}",
            text_field=o.text_field,
            text_pair_field=o.text_pair_field,
            label_field=o.label_field,
            label_values=list(range(len(o.label_names))),
            split=split,
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"dataset": self.options.dataset, "subset": self.options.subset}


TASKS = (FilesTask, SST2Task, RTETask, CBTask, HubTask)
