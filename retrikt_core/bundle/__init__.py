"""Bundles: a finished run exported as a folder that loads and predicts
without the generator or the teacher (student, stores, retrieval settings,
model card, and a manifest of every file's size and sha256)."""

from retrikt_core.bundle.export import ExportOptions, export_bundle, push_to_hub
from retrikt_core.bundle.load import (
    BUNDLE_DIGEST,
    BUNDLE_MANIFEST,
    NATIVE,
    RUNTIMES,
    Bundle,
    BundleManifest,
    FileRecord,
    RetrievalSettings,
    choose_runtime,
    file_records,
    is_bundle,
    load_bundle,
    read_manifest,
)
from retrikt_core.errors import BundleError

__all__ = [
    "BUNDLE_DIGEST",
    "BUNDLE_MANIFEST",
    "NATIVE",
    "RUNTIMES",
    "Bundle",
    "BundleError",
    "BundleManifest",
    "ExportOptions",
    "FileRecord",
    "RetrievalSettings",
    "choose_runtime",
    "export_bundle",
    "file_records",
    "is_bundle",
    "load_bundle",
    "push_to_hub",
    "read_manifest",
]
