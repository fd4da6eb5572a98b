"""Bundles: a finished run exported as a folder that loads and predicts
without the generator or the teacher (student, stores, retrieval settings,
model card, and a manifest of every file's size and sha256), and labelled
knowledge added to a bundle's store after training."""

from retrikt_core.bundle.additions import Addition, add_to_bundle, read_labelled
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
    "Addition",
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
    "add_to_bundle",
    "choose_runtime",
    "export_bundle",
    "file_records",
    "is_bundle",
    "load_bundle",
    "push_to_hub",
    "read_labelled",
    "read_manifest",
]
