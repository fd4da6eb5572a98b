"""The ``corpus`` knowledge source: real unlabelled in-domain text that the
teacher labels (transfer-set distillation), from a file or from the task's
training split with the k-shot examples and all labels dropped."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.api import (
    ConfigError,
    Example,
    Knowledge,
    KnowledgeGenerator,
    Table,
    TableFormat,
    Task,
    TaskDataError,
    atomic_write_text,
    column_of,
    dump_jsonl,
    file_fingerprint,
    jsonl_lines,
    option,
    read_table,
    read_text,
    text_value,
)


@dataclass
class CorpusOptions:
    path: str = option("", "TXT (one text per line), CSV, TSV or JSONL; empty = task train split")
    format: str = option("auto", "txt, csv, tsv, jsonl, or auto (from the suffix)")
    text_field: str = option("", "field with the text; default: the task's first field")
    text_pair_field: str = option("", "field with the second text of a pair")


class CorpusGenerator(KnowledgeGenerator):
    """Unlabelled in-domain text sampled from a file or the task's train split."""

    name = "corpus"
    Options = CorpusOptions
    conditional = False
    source = "corpus"

    def __init__(self, options: CorpusOptions | None = None) -> None:
        super().__init__(options)
        self.pool: list[Example] = []
        self.origin = ""

    def _file(self) -> Path:
        path = Path(self.options.path)
        if not path.is_file():
            raise ConfigError(f"generator.path: corpus file not found: {path}")
        return path

    def _read_file(self, task: Task) -> list[Example]:
        o = self.options
        path = self._file()
        suffixes = [s.lower() for s in path.suffixes[-2:]]
        if o.format == "txt" or (o.format == "auto" and ".txt" in suffixes):
            # One text per line ("\n" ends a line; the file may be compressed).
            lines = read_text(path).split("\n")
            pool = [Example(line.strip(), id=f"corpus-{i}") for i, line in enumerate(lines)]
            pool = [e for e in pool if e.text]
        else:
            fmt = {"json": "jsonl"}.get(o.format, o.format)
            table = read_table(path, TableFormat(format=fmt))
            refs = getattr(task, "field_refs", task.field_names)
            fields = {"text_field": o.text_field or refs[0]}
            fields["text_pair_field"] = o.text_pair_field or (refs[1] if task.is_pair else "")
            names = {option: _column(table, field, option) for option, field in fields.items()}
            text_field, pair_field = names["text_field"], names["text_pair_field"]
            try:
                pool = [
                    Example(
                        text_value(r[text_field], f"{path}: row {i}", text_field),
                        text_value(r[pair_field], f"{path}: row {i}", pair_field)
                        if pair_field
                        else None,
                        id=f"corpus-{i}",
                    )
                    for i, r in enumerate(table.rows)
                ]
            except TaskDataError as exc:
                raise ConfigError(f"generator.path: {exc}") from None
        if not pool:
            raise ConfigError(f"generator.path: corpus file {path} holds no text")
        return pool

    def check(self, task: Task, n: int) -> None:
        """The file (or split) exists, has the fields, and holds ``n`` texts."""
        if self.options.path:
            available, origin = len(self._read_file(task)), self.options.path
        else:
            k_shot = task.k_shot * task.num_labels
            rows = len(task.load(task.train_split))
            if k_shot > rows:
                # Then no n_total could fit: the k-shot sample is what is too big.
                raise ConfigError(
                    f"task.k_shot: {task.k_shot} per label takes {k_shot} examples; split "
                    f"{task.train_split!r} of task {task.name!r} has {rows}"
                )
            available = rows - k_shot
            origin = f"task {task.name!r} split {task.train_split!r} (minus {k_shot} k-shot)"
        if available < n:
            raise ConfigError(
                f"generator.path: the corpus {origin} holds {available} texts; extract asks "
                f"for {n} (lower extract.n_total or extract.n_per_label)"
            )

    def fingerprint(self) -> dict[str, Any] | None:
        # The task's own split is fingerprinted by `prepare`.
        return file_fingerprint(self._file()) if self.options.path else None

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        if self.options.path:
            self.pool = self._read_file(task)
            self.origin = str(Path(self.options.path).resolve())
        else:
            held = {e.id for e in examples}
            self.pool = [
                Example(e.text, e.text_pair, id=e.id)
                for e in task.load(task.train_split)
                if e.id not in held
            ]
            self.origin = f"{task.name}:{task.train_split}"
        return {"pool": len(self.pool), "origin": self.origin}

    def generate(self, label: int | None, n: int, *, seed: int) -> list[Knowledge]:
        if label is not None:
            raise ValueError("the corpus source is unconditional; call generate(None, n)")
        if n > len(self.pool):
            raise ValueError(
                f"generator: corpus {self.origin} has {len(self.pool)} entries; "
                f"asked for {n} (lower extract.n_total or extract.n_per_label)"
            )
        chosen = random.Random(seed).sample(self.pool, n)
        return [
            Knowledge(
                text=e.text,
                text_pair=e.text_pair,
                source="corpus",
                provenance={"generator": self.name, "origin": self.origin, "row": e.id},
            )
            for e in chosen
        ]

    def save_state(self, path: Path) -> None:
        atomic_write_text(path / "pool.jsonl", dump_jsonl(self.pool))
        atomic_write_text(path / "origin.json", json.dumps({"origin": self.origin}))

    def load_state(self, path: Path) -> None:
        lines = jsonl_lines((path / "pool.jsonl").read_text(encoding="utf-8"))
        self.pool = [Example.from_dict(json.loads(line)) for _, line in lines]
        self.origin = json.loads((path / "origin.json").read_text())["origin"]


def _column(table: Table, field: str | int, option: str) -> str:
    """The corpus file's column for a field option ("" for none)."""
    if field in ("", None):
        return ""
    if isinstance(field, str) and field not in table.columns:
        raise ConfigError(
            f"generator.{option}: {table.files[0]} has no field {field!r}; "
            f"fields are {', '.join(table.columns)}"
        )
    try:
        return column_of(table, field, f"generator.{option}")
    except TaskDataError as exc:
        raise ConfigError(f"generator.{option}: {exc}") from None
