"""Sizes and sha256 of what a run wrote: per file, per folder, and of the
manifest itself."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from retrikt_core.storekit.files import sha256_file

CHECKSUM = "checksum"  # of the rest of the manifest


def manifest_checksum(manifest: dict[str, Any]) -> str:
    # Over the JSON form (keys as the file has them), so a round trip keeps it.
    canonical = json.loads(json.dumps(manifest, ensure_ascii=False, default=str))
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_record(file: Path) -> dict[str, Any]:
    """``{"bytes", "sha256"}`` of one file."""
    return {"bytes": file.stat().st_size, "sha256": sha256_file(file)}


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"bytes", "sha256"}}`` of every file under ``folder``."""
    return {
        file.relative_to(folder).as_posix(): file_record(file)
        for file in sorted(p for p in folder.rglob("*") if p.is_file())
    }


def records_digest(records: dict[str, dict[str, Any]]) -> str:
    """One sha256 over file records: equal for byte-identical folders."""
    digest = hashlib.sha256()
    for name in sorted(records):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(records[name]["sha256"].encode("ascii"))
    return digest.hexdigest()


def output_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of every file under ``folder``."""
    return records_digest(file_records(folder))
