"""The ``files`` task: any labelled CSV/TSV/JSONL files, configured by options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.api import (
    ConfigError,
    Example,
    Task,
    TaskDataError,
    file_fingerprint,
    option,
    read_rows,
    rows_to_examples,
)


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
