"""The ``files`` task: any labelled CSV/TSV/JSONL files, configured by options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from retrikt_core.api import (
    ConfigError,
    Example,
    OptionError,
    Table,
    TableFormat,
    Task,
    TaskDataError,
    column_of,
    file_fingerprint,
    option,
    read_table,
    rows_to_examples,
)


def describe_from_options(task: Task) -> None:
    """Labels, verbalizers and fields of a task configured entirely by options."""
    o = task.options
    task.label_names = list(o.label_names)
    task.verbalizers = list(o.verbalizers) or list(o.label_names)
    task.is_pair = o.text_pair_field not in ("", None)
    task.description = o.description
    fields = [f for f in (o.text_field, o.text_pair_field) if f not in ("", None)]
    # Where the fields are in a file (names or positions), for sources that read
    # files of the same shape; prompts title fields by name ("text" for a position).
    task.field_refs = tuple(fields)
    titles = ("text", "text_pair")
    task.field_names = tuple(titles[i] if isinstance(f, int) else f for i, f in enumerate(fields))


def check_label_words(o: Any) -> None:
    """The label names and verbalizers of a task configured by options."""
    if len(o.label_names) < 2:
        raise ConfigError("task.label_names: give at least two label names")
    if o.verbalizers and len(o.verbalizers) != len(o.label_names):
        raise ConfigError("task.verbalizers: need one word per label name")
    if len(set(o.verbalizers)) != len(o.verbalizers):
        # The teacher scores each label by its word: two labels of one word
        # would always tie, and the first would win every time.
        raise ConfigError(f"task.verbalizers: one distinct word per label, got {o.verbalizers}")


@dataclass
class FilesTaskOptions:
    train_file: str = option(
        "", "labelled training file, or a folder of files (CSV, TSV, JSONL, Parquet; .gz/.bz2/.xz)"
    )
    eval_file: str = option("", "labelled evaluation file, or a folder of files")
    label_names: list[str] = option([], "label names, in label-index order")
    format: Literal["auto", "csv", "tsv", "jsonl", "parquet"] = option(
        "auto", "csv, tsv, jsonl, parquet, or auto (from the file suffix)"
    )
    text_field: str | int = option(
        "text", "field holding the text (or the premise of a pair): a name or a 0-based position"
    )
    text_pair_field: str | int = option(
        "", "field holding the second text of a pair (name or position); empty = single"
    )
    label_field: str | int = option("label", "field holding the label (name or position)")
    label_values: list[str] = option(
        [], "raw label values in label order; default: indices 0..n-1 or the label names"
    )
    label_map: dict[str, str] = option(
        {}, "raw label value -> label name, for labels given as codes, words or symbols"
    )
    header: Literal["auto", "true", "false"] = option(
        "auto",
        "CSV/TSV: whether the first row names the columns; auto decides from the label "
        "column (a first row whose label is a label value is data) and records why",
    )
    columns: list[str] = option([], "names of the columns of a headerless CSV/TSV file")
    delimiter: str = option("", 'CSV/TSV field separator; default "," (csv) or tab (tsv)')
    quoting: Literal["auto", "minimal", "none"] = option(
        "auto", 'CSV/TSV quote handling: "none" keeps quotes as text; auto = none for tsv'
    )
    comment: str = option("", "skip lines that start with this (e.g. #); empty = none")
    verbalizers: list[str] = option([], "one word per label for LLM prompts; default: names")
    description: str = option("", "what the task is, in a few words (used in prompts)")
    k_shot: int = option(16, "labelled examples sampled per label for training", minimum=1)
    max_eval: int = option(
        0, "evaluate on a seeded sample of at most this many (0 = all)", minimum=0
    )

    def __post_init__(self) -> None:
        if len(self.delimiter) > 1 or self.delimiter in ('"', "\n", "\r"):
            raise OptionError("delimiter", f"one character (not a quote), got {self.delimiter!r}")
        for name in ("text_field", "text_pair_field", "label_field"):
            value = getattr(self, name)
            if isinstance(value, int) and value < 0:
                raise OptionError(name, f"a position counts from 0, got {value}")
        if len(set(self.label_names)) != len(self.label_names):
            raise OptionError("label_names", f"repeated names: {self.label_names}")


class FilesTask(Task):
    """Any labelled CSV/TSV/JSONL/Parquet files, single sentences or sentence pairs."""

    name = "files"
    Options = FilesTaskOptions

    def __init__(self, options: FilesTaskOptions | None = None) -> None:
        super().__init__(options)
        describe_from_options(self)
        self.reads: dict[str, dict[str, Any]] = {}

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
        check_label_words(o)
        unknown = sorted(set(o.label_map.values()) - set(o.label_names))
        if unknown:
            raise ConfigError(
                f"task.label_map: maps to {', '.join(map(repr, unknown))}, not among "
                f"label_names ({', '.join(o.label_names)})"
            )
        if o.label_map and o.label_values:
            raise ConfigError("task.label_map: give label_map or label_values, not both")
        if o.label_values and (
            len(o.label_values) != len(o.label_names)
            or len(set(o.label_values)) != len(o.label_values)
        ):
            # One distinct raw value per label: an extra one would map to a
            # label index that has no name, a repeated one to two labels.
            raise ConfigError(
                f"task.label_values: give one distinct value per label name "
                f"({', '.join(o.label_names)}), got {o.label_values}"
            )
        files = self.files()
        for split, path in files.items():
            key = f"task.{split}_file"
            if not str(path) or str(path) == ".":
                raise ConfigError(f"{key}: required; the path of the {split} file")
            if not path.exists():
                raise ConfigError(f"{key}: file not found: {path}")
        train, evaluation = files["train"], files["eval"]
        if train.resolve() == evaluation.resolve():
            # The k-shot sample is drawn from the train file: evaluating on
            # the same rows would score students on what they trained on.
            raise ConfigError(
                f"task.eval_file: the same file as task.train_file ({evaluation}); "
                "give held-out labelled rows to evaluate on"
            )

    def _label_values(self) -> list[Any]:
        o = self.options
        return list(o.label_values) if o.label_values else list(o.label_names)

    def table_format(self) -> TableFormat:
        o = self.options
        return TableFormat(o.format, o.header, tuple(o.columns), o.delimiter, o.quoting, o.comment)

    def _label_index(self, sample: Any) -> dict[str, int]:
        """Raw label text -> label index."""
        o = self.options
        if o.label_map:
            return {str(raw): o.label_names.index(name) for raw, name in o.label_map.items()}
        values = self._label_values()
        # Integer label columns (0, 1, ...) map by index unless values say otherwise.
        if not o.label_values and _is_int_like(sample):
            values = list(range(len(self.label_names)))
        return {str(v): i for i, v in enumerate(values)}

    def _is_header(self, first: list[str], second: list[str]) -> tuple[bool, str]:
        """``header = "auto"``: a first row whose label cell is a label value is data."""
        field = self.options.label_field
        if not isinstance(field, int) or isinstance(field, bool):
            if field in [c.strip() for c in first]:
                return True, f"the first row has the field {field!r}"
            return True, "the first row names the columns"
        if field >= len(first):
            return True, "the first row is too short to hold the label column"
        cell = first[field].strip()
        sample = second[field].strip() if field < len(second) else cell
        if cell in self._label_index(sample):
            return False, f"the first row's label {cell!r} is a label value"
        return True, f"the first row's label cell {cell!r} is not a label value"

    def read(self, split: str) -> Table:
        """The split's file(s) as a table (what ``retrikt data check`` shows)."""
        files = self.files()
        if split not in files:
            raise TaskDataError(f"task {self.name!r}: no split {split!r}; splits: train, eval")
        table = read_table(files[split], self.table_format(), self._is_header)
        self.reads[split] = table.describe()
        return table

    def load(self, split: str) -> list[Example]:
        table = self.read(split)
        o = self.options
        fields = {
            "text_field": column_of(table, o.text_field, "task.text_field"),
            "text_pair_field": (
                column_of(table, o.text_pair_field, "task.text_pair_field") if self.is_pair else ""
            ),
            "label_field": column_of(table, o.label_field, "task.label_field"),
        }
        sample = table.rows[0].get(fields["label_field"]) if table.rows else None
        index = self._label_index(sample)
        return rows_to_examples(
            table.rows,
            where=str(table.files[0] if len(table.files) == 1 else self.files()[split]),
            label_values=list(index),
            split=split,
            label_index=index,
            **fields,
        )

    def data_report(self, split: str) -> dict[str, Any] | None:
        return self.reads.get(split)

    def fingerprint(self) -> dict[str, Any]:
        return {split: file_fingerprint(p) for split, p in self.files().items() if p.exists()}


def _is_int_like(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        or (isinstance(value, str) and value.strip().lstrip("-").isdigit())
    )
