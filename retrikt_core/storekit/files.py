"""Files of a persisted knowledge store.

Every store writes a ``store.json`` manifest last, holding what it needs to
check its files (count, dimensions, ...) and the sha256 of each file; loading
checks every listed file against it before reading anything, so a missing,
truncated or swapped file is refused with an error that names it. Stores that
keep their entries as a table share the Parquet layout below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from retrikt_core.atomic import atomic_write_bytes, atomic_write_json
from retrikt_core.errors import StoreFileError
from retrikt_core.records import Knowledge

MANIFEST = "store.json"
ENTRIES = "entries.parquet"
ENTRY_COLUMNS = (
    "text",
    "text_pair",
    "requested_label",
    "teacher_probs",
    "source",
    "provenance",
    "id",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(path: Path, files: Iterable[str], **info: Any) -> None:
    """Write ``store.json`` with ``info`` and the checksum of each of ``files``
    (paths relative to ``path``); call it after every file is written."""
    checksums = {name: sha256_file(path / name) for name in sorted(files)}
    atomic_write_json(path / MANIFEST, {**info, "sha256": checksums})


def read_manifest(
    path: Path, files: Iterable[str] = (), keys: Iterable[str] = ()
) -> dict[str, Any]:
    """The manifest of the store in ``path``, once every file it lists exists
    and matches its checksum; ``files`` must be listed and ``keys`` present."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise StoreFileError(f"{manifest_path}: missing; the store manifest is required")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreFileError(
            f"{manifest_path}: not valid JSON (truncated or modified): {exc}"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), dict):
        raise StoreFileError(f"{manifest_path}: has no sha256 table; not a store manifest")
    for key in keys:
        if key not in manifest:
            raise StoreFileError(f"{manifest_path}: has no {key!r}; truncated or modified")
    check_listed(path, manifest, files)
    for name, digest in manifest["sha256"].items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise StoreFileError(f"{manifest_path}: lists a file outside the store: {name!r}")
        file = path / name
        if not file.is_file():
            raise StoreFileError(f"{file}: missing (listed in {MANIFEST})")
        if sha256_file(file) != digest:
            raise StoreFileError(
                f"{file}: checksum does not match {MANIFEST} (truncated or modified)"
            )
    return manifest


def check_listed(path: Path, manifest: dict[str, Any], files: Iterable[str]) -> None:
    """Refuse a manifest that does not list each of ``files`` (it would not
    check them)."""
    for name in files:
        if name not in manifest["sha256"]:
            raise StoreFileError(f"{path / MANIFEST}: lists no checksum for {name}")


def check_matches(file: Path, what: str, found: Any, expected: Any) -> None:
    """Refuse a loaded file whose ``what`` differs from what the manifest or the
    options say (files mixed from different stores)."""
    if found != expected:
        raise StoreFileError(f"{file}: {what} is {found!r}, expected {expected!r}")


def write_entries(file: Path, entries: list[Knowledge]) -> None:
    """Entries as a Parquet table; provenance is kept as a JSON string because
    its keys differ from source to source. Needs pyarrow (imported here, not
    at module import; core has it through ``datasets``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "text": pa.array([e.text for e in entries], pa.string()),
            "text_pair": pa.array([e.text_pair for e in entries], pa.string()),
            "requested_label": pa.array([e.requested_label for e in entries], pa.int64()),
            "teacher_probs": pa.array(
                [list(e.teacher_probs) for e in entries], pa.list_(pa.float64())
            ),
            "source": pa.array([e.source for e in entries], pa.string()),
            "provenance": pa.array(
                [json.dumps(e.provenance, ensure_ascii=False) for e in entries], pa.string()
            ),
            "id": pa.array([e.id for e in entries], pa.string()),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(file, sink.getvalue().to_pybytes())


def read_entries(file: Path) -> list[Knowledge]:
    """The entries :func:`write_entries` wrote, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as exc:
        raise StoreFileError(f"{file}: not a readable Parquet table: {exc}") from None
    missing = [c for c in ENTRY_COLUMNS if c not in table.column_names]
    if missing:
        raise StoreFileError(f"{file}: missing column(s) {', '.join(missing)}")
    entries = []
    for row in table.select(list(ENTRY_COLUMNS)).to_pylist():
        row["provenance"] = json.loads(row["provenance"])
        entries.append(Knowledge.from_dict(row))
    return entries
