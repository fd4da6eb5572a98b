"""Reading labelled and unlabelled data files (CSV, TSV, JSONL): rows, rows
as examples with label indices, content fingerprints, and seeded eval samples.

Files are read through ``datasets`` (imported only when data is read). Errors
name the file, the field and the row.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrikt_core.errors import TaskDataError
from retrikt_core.records import Example
from retrikt_core.storekit.files import sha256_file

DATA_DIR_ENV = "RETRIKT_DATA_DIR"


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
