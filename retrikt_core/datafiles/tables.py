"""Reading a data file (or a folder of them) as a table of rows.

Formats: CSV, TSV, JSONL and Parquet, plain or compressed (``.gz``, ``.bz2``,
``.xz``; ``.zst`` where Python's standard library reads it). CSV and TSV may
have a header row or not (``header = "auto"`` decides, and says why), may
carry comment lines, and may be read with or without quote handling (TSVs
whose texts contain quotes want ``quoting = "none"``, their default). Every
error names the file and, where there is one, the line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrikt_core.errors import TaskDataError

FORMATS = ("csv", "tsv", "jsonl", "parquet")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
SUFFIX_FORMATS[".parquet"] = "parquet"
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")


@dataclass(frozen=True)
class TableFormat:
    """How to read a data file. The defaults read what most files are."""

    format: str = "auto"  # csv, tsv, jsonl, parquet, or auto (from the suffix)
    header: Literal["auto", "true", "false"] = "auto"
    columns: tuple[str, ...] = ()  # names of a headerless file's columns
    delimiter: str = ""  # default: "," for csv, tab for tsv
    quoting: Literal["auto", "minimal", "none"] = "auto"  # auto: csv minimal, tsv none
    comment: str = ""  # lines starting with this are skipped (csv, tsv, jsonl)


@dataclass
class Table:
    """Rows as dicts keyed by column name, and what reading decided."""

    rows: list[dict[str, Any]]
    columns: list[str]
    files: list[Path]
    format: str
    header: bool | None = None  # None for formats without a header row (jsonl, parquet)
    header_reason: str = ""
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> lines
    line_numbers: list[int] = field(default_factory=list)  # 1-based line of each row

    def describe(self) -> dict[str, Any]:
        """What the manifest and ``retrikt data check`` record of the read."""
        out: dict[str, Any] = {"format": self.format, "rows": len(self.rows)}
        if len(self.files) > 1:
            out["files"] = len(self.files)
        if self.header is not None:
            out["header"] = self.header
            if self.header_reason:
                out["header_reason"] = self.header_reason
        out["columns"] = list(self.columns)
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out

    def where(self, row: int) -> str:
        """``file:line`` of a row, for error messages."""
        line = self.line_numbers[row] if row < len(self.line_numbers) else row + 1
        return f"{self.files[0] if len(self.files) == 1 else 'row'}:{line}"


def data_files(path: Path) -> list[Path]:
    """The file itself, or a folder's data files in name order (one split
    spread over several files)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _plain_suffix(p) in SUFFIXES)
        if not files:
            raise TaskDataError(f"{path}: a folder with no data files ({', '.join(SUFFIXES)})")
        return files
    if not path.is_file():
        raise TaskDataError(f"{path}: file not found")
    return [path]


SUFFIXES = (*SUFFIX_FORMATS, ".txt")


def _plain_suffix(path: Path) -> str:
    """The format suffix of ``train.tsv.gz`` is ``.tsv``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def file_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise TaskDataError(f"{path}: unknown format {fmt!r}; use {', '.join(FORMATS)}")
        return fmt
    found = SUFFIX_FORMATS.get(_plain_suffix(path))
    if found is None:
        raise TaskDataError(
            f"{path}: cannot tell the format from its name; set format = {', '.join(FORMATS)}"
        )
    return found


def open_bytes(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed by its suffix."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    if suffix == ".zst":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            raise TaskDataError(
                f"{path}: zstd needs Python 3.14 or later; decompress it or use .gz"
            ) from None
        return zstd.open(path, "rb")
    return open(path, "rb")


def read_text(path: Path) -> str:
    """The file as text (UTF-8, a byte-order mark dropped); bad bytes name the line."""
    try:
        with open_bytes(path) as handle:
            data = handle.read()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise TaskDataError(f"{path}: cannot read ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TaskDataError(
            f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None


def read_table(
    path: str | Path,
    fmt: TableFormat | None = None,
    is_header: Callable[[list[str], list[str]], tuple[bool, str]] | None = None,
) -> Table:
    """Read ``path`` (a file, or a folder of files of one format and shape).

    ``is_header(first_row, second_row)`` decides ``header = "auto"`` for CSV and
    TSV and says why; without it a first row is a header unless ``columns``
    names the columns.
    """
    fmt = fmt or TableFormat()
    path = Path(path)
    tables = [_read_one(f, fmt, is_header) for f in data_files(path)]
    first = tables[0]
    for other in tables[1:]:
        if other.columns != first.columns:
            raise TaskDataError(
                f"{other.files[0]}: columns {', '.join(other.columns)} differ from "
                f"{first.files[0]}'s ({', '.join(first.columns)})"
            )
        first.rows += other.rows
        first.line_numbers += other.line_numbers
        first.files += other.files
        for reason, n in other.skipped.items():
            first.skipped[reason] = first.skipped.get(reason, 0) + n
    return first


def _read_one(path: Path, fmt: TableFormat, is_header) -> Table:
    kind = file_format(path, fmt.format)
    if kind == "parquet":
        return _read_parquet(path)
    text = read_text(path)
    if kind == "jsonl":
        return _read_jsonl(path, text, fmt.comment)
    return _read_delimited(path, text, kind, fmt, is_header)


def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        with open_bytes(path) as handle:
            table = pq.read_table(handle)
    except Exception as exc:  # pyarrow raises its own types for a bad file
        raise TaskDataError(f"{path}: not a readable Parquet file ({exc})") from None
    rows = table.to_pylist()
    lines = list(range(1, len(rows) + 1))
    return Table(rows, list(table.column_names), [path], "parquet", line_numbers=lines)


def _read_jsonl(path: Path, text: str, comment: str) -> Table:
    rows, lines, skipped = [], [], {}
    for number, line in enumerate(_lines(text), 1):
        stripped = line.strip()
        if not stripped:
            skipped["blank"] = skipped.get("blank", 0) + 1
            continue
        if comment and stripped.startswith(comment):
            skipped["comment"] = skipped.get("comment", 0) + 1
            continue
        try:
            row = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TaskDataError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise TaskDataError(f"{path}:{number}: expected a JSON object, got {row!r:.60}")
        rows.append(row)
        lines.append(number)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return Table(rows, columns, [path], "jsonl", skipped=skipped, line_numbers=lines)


def _read_delimited(path: Path, text: str, kind: str, fmt: TableFormat, is_header) -> Table:
    delimiter = fmt.delimiter or ("\t" if kind == "tsv" else ",")
    quoting = fmt.quoting if fmt.quoting != "auto" else ("none" if kind == "tsv" else "minimal")
    lines = _lines(text, keepends=True)
    kept: list[str] = []
    numbers: list[int] = []
    skipped: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            skipped["blank"] = skipped.get("blank", 0) + 1
            continue
        if fmt.comment and line.lstrip().startswith(fmt.comment):
            skipped["comment"] = skipped.get("comment", 0) + 1
            continue
        kept.append(line)
        numbers.append(number)
    reader = csv.reader(
        kept,
        delimiter=delimiter,
        quoting=csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL,
        strict=True,
    )
    records: list[list[str]] = []
    starts: list[int] = []  # the file line each record starts on (a quoted field may span lines)
    while True:
        before = reader.line_num
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Name the line the broken record starts on: an unclosed quote runs to the end.
            at = numbers[min(before, len(numbers) - 1)]
            hint = ' (a quote opened and never closed? try quoting = "none")'
            raise TaskDataError(f"{path}:{at}: {exc}{hint if quoting != 'none' else ''}") from None
        records.append(record)
        starts.append(numbers[before])
    if not records:
        raise TaskDataError(f"{path}: no rows (the file is empty)")
    header, reason = _decide_header(records, fmt, is_header)
    if header:
        columns = list(fmt.columns) or [c.strip() for c in records[0]]
        body, body_lines = records[1:], starts[1:]
    else:
        width = len(records[0])
        columns = list(fmt.columns) or [str(i) for i in range(width)]
        body, body_lines = records, starts
    if len(set(columns)) != len(columns):
        raise TaskDataError(f"{path}: repeated column names: {', '.join(columns)}")
    rows = []
    for record, line in zip(body, body_lines, strict=True):
        if len(record) != len(columns):
            raise TaskDataError(
                f"{path}:{line}: {len(record)} fields, expected {len(columns)} "
                f"({', '.join(columns)})"
            )
        rows.append(dict(zip(columns, record, strict=True)))
    if not rows:
        raise TaskDataError(f"{path}: no rows under the header ({', '.join(columns)})")
    return Table(
        rows, columns, [path], kind, header, reason, skipped=skipped, line_numbers=body_lines
    )


def _lines(text: str, keepends: bool = False) -> list[str]:
    """Lines ended by "\n" (or "\r\n") only: a text may hold U+2028, form
    feeds and the other breaks ``str.splitlines`` also cuts at."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if keepends:
        return [line + "\n" for line in lines]
    return [line.rstrip("\r") for line in lines]


def _decide_header(records: list[list[str]], fmt: TableFormat, is_header) -> tuple[bool, str]:
    if fmt.header == "true":
        return True, "header = true"
    if fmt.header == "false":
        return False, "header = false"
    if fmt.columns:
        return False, "columns are named by the columns option"
    if is_header is not None:
        second = records[1] if len(records) > 1 else []
        return is_header(records[0], second)
    return True, "the first row names the columns"
