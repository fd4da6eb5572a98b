"""From rows to examples: fields by name or position, label values to label
indices, content fingerprints of data files, and seeded eval samples. Errors
name the file, the field and the row."""

from __future__ import annotations

import math
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrikt_core.datafiles.tables import Table, TableFormat, data_files, read_table
from retrikt_core.errors import TaskDataError
from retrikt_core.records import Example
from retrikt_core.storekit.files import sha256_file

DATA_DIR_ENV = "RETRIKT_DATA_DIR"  # where the preset tasks find their folders


def read_rows(path: Path, fmt: str = "auto") -> list[dict[str, Any]]:
    """Rows of a CSV, TSV, JSONL or Parquet file (or folder) as dicts, with a
    header row where the format has one."""
    return read_table(path, TableFormat(format=fmt)).rows


def column_of(table: Table, field: str | int, option: str) -> str:
    """The column a field option names: a column name, or a 0-based position."""
    where = ", ".join(map(str, table.files[:1]))
    if not table.columns:
        # An empty file: say so, rather than list no fields.
        raise TaskDataError(f"{where}: holds no rows; {option} = {field!r} has nothing to read")
    if isinstance(field, int) and not isinstance(field, bool):
        if not 0 <= field < len(table.columns):
            raise TaskDataError(
                f"{where}: {option} = {field}: no such column; the file has "
                f"{len(table.columns)} ({', '.join(table.columns)})"
            )
        return table.columns[field]
    if field in table.columns:
        return field
    hint = ""
    if table.header is False and all(c.isdigit() for c in table.columns):
        hint = " (the file has no header row: give fields by position, or name the columns)"
    if table.header:
        hint = (
            f" (read as the header: {table.header_reason}; for a file without a header "
            "row set header = false and name the columns, or give fields by position)"
        )
    raise TaskDataError(f"{where}: no field {field!r}; fields are {', '.join(table.columns)}{hint}")


def text_value(value: Any, where: str, field: str) -> str:
    """A row's text field, stripped. Strings and numbers are text; a null,
    NaN, list, object or boolean, and an empty text, are refused, naming
    ``where`` and the field, rather than read as ``"None"`` or ``"['a']"``."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing or isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TaskDataError(f"{where}: field {field!r} must be text, got {value!r}")
    text = str(value).strip()
    if not text:
        raise TaskDataError(f"{where}: field {field!r} is empty")
    return text


def rows_to_examples(
    rows: list[dict[str, Any]],
    *,
    where: str,
    text_field: str,
    text_pair_field: str,
    label_field: str,
    label_values: list[Any],
    split: str,
    label_index: dict[str, int] | None = None,
) -> list[Example]:
    """Map raw rows to :class:`Example` with label indices; errors name the field.

    A raw label is looked up as text in ``label_index`` (raw value -> label
    index) when given, else by its position in ``label_values``."""
    roles = {"text": text_field, "text_pair": text_pair_field, "label": label_field}
    seen: dict[str, str] = {}
    for role, name in roles.items():
        if name and name in seen:
            # A label read from the text column would be learned from the text
            # itself: a perfect, meaningless score rather than an error.
            raise TaskDataError(
                f"{where}: the {seen[name]} and the {role} are both read from field "
                f"{name!r}; give each its own (task.{seen[name]}_field, task.{role}_field)"
            )
        seen.setdefault(name, role)
    if rows:
        for name in (text_field, text_pair_field, label_field):
            if name and name not in rows[0]:
                fields = ", ".join(map(str, rows[0])) or "none (row 0 is empty)"
                raise TaskDataError(f"{where}: no field {name!r}; fields are {fields}")
    index = label_index if label_index is not None else {}
    if label_index is None:
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
                    f"expected one of {', '.join(index)}"
                )
        for name in (text_field, text_pair_field):
            if name and name not in row:  # JSONL rows may each have other fields
                raise TaskDataError(f"{where}: row {i}: no field {name!r}")
        here = f"{where}: row {i}"
        examples.append(
            Example(
                text=text_value(row[text_field], here, text_field),
                text_pair=text_value(row[text_pair_field], here, text_pair_field)
                if text_pair_field
                else None,
                label=label,
                id=f"{split}-{i}",
            )
        )
    return examples


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a data file: what it holds, not where or when it was
    written, so a copied, moved or restored dataset keeps its prepared stages
    (and the hours of LLM stages keyed on them)."""
    if path.is_dir():
        return {f.name: file_fingerprint(f) for f in data_files(path)}
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
