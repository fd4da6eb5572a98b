"""A deployable bundle: one student, its knowledge store(s) and the retrieval
settings, loaded in one call and ready to predict, without the generator or
the teacher that made them.

A bundle is a folder written by ``retrikt export`` (see
:mod:`retrikt_core.bundle.export`)::

    bundle.json          format, task, student, stores, retrieval, runtimes,
                         checks, and the size and sha256 of every other file
    bundle.sha256        the sha256 of bundle.json (``sha256sum -c bundle.sha256``)
    README.md            model card
    config.json          the run's config (config.toml too when the run kept it)
    metrics.json         the run's metrics
    student/             the student's save_pretrained files (+ ONNX files)
    stores/<section>/    each store's save_pretrained files

Loading checks ``bundle.json`` against ``bundle.sha256`` and every listed
file against ``bundle.json`` before reading any of them, so a missing,
truncated or swapped file is refused with an error that names it; the
retrieval settings ``bundle.json`` records are the ones the student uses.
What loading imports is only what the student and store plugins need to
predict: numpy, the student's library (torch for the native tiny-transformer,
onnxruntime for its ONNX export), the store's (faiss for a faiss store), never
the generator's or the teacher's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from retrikt_core.config.options import build_options
from retrikt_core.errors import BundleError, InputError, RetriktError
from retrikt_core.inspection import Prediction, explain
from retrikt_core.interfaces import KnowledgeStore, Retriever, Student
from retrikt_core.pipeline.digests import file_records as run_file_records
from retrikt_core.pipeline.rundir import load_component
from retrikt_core.plugins import Plugins, get_plugins
from retrikt_core.records import Example, Knowledge
from retrikt_core.storekit import sha256_file

BUNDLE_MANIFEST = "bundle.json"
# sha256 of bundle.json, in `sha256sum` format: the one file its own list cannot cover.
BUNDLE_DIGEST = "bundle.sha256"
FORMAT = "retrikt-bundle"
FORMAT_VERSION = 2  # 2: bundle.json is covered by bundle.sha256
NATIVE = "native"  # the student's own save_pretrained/from_pretrained code
RUNTIMES = (NATIVE, "onnx", "onnx-int8")
REQUIRED = ("format", "format_version", "task", "method", "student", "stores", "runtimes", "files")


@dataclass
class FileRecord:
    """Size and checksum of one bundle file, as listed in ``bundle.json``."""

    bytes: int
    sha256: str


@dataclass
class RetrievalSettings:
    """How the student retrieves and interpolates: the retriever's config
    section (``plugin`` plus options), its ``k``, and the interpolation weight
    ``lam`` and neighbour temperature the student learned (or was given)."""

    retriever: dict[str, Any]
    k: int
    lam: float | None = None
    knn_temperature: float | None = None


@dataclass
class BundleManifest:
    """What ``bundle.json`` holds."""

    task: dict[str, Any]
    method: str
    student: dict[str, Any]
    stores: list[dict[str, Any]]
    runtimes: dict[str, str | None]
    default_runtime: str = NATIVE
    retrieval: RetrievalSettings | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    retrikt_version: str = ""
    # 1 as exported; each `retrikt store add` makes the next.
    store_version: int = 1
    files: dict[str, FileRecord] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # format first: it says what the file is
        return {"format": data.pop("format"), "format_version": data.pop("format_version"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleManifest:
        data = dict(data)
        retrieval = data.pop("retrieval", None)
        files = {name: FileRecord(**record) for name, record in data.pop("files").items()}
        known = {f for f in cls.__dataclass_fields__}
        return cls(
            **{k: v for k, v in data.items() if k in known},
            retrieval=RetrievalSettings(**retrieval) if retrieval else None,
            files=files,
        )

    def bytes_under(self, folder: str) -> int:
        """Bytes of the listed files under ``folder`` (``student``, ``stores``)."""
        prefix = folder.rstrip("/") + "/"
        return sum(r.bytes for name, r in self.files.items() if name.startswith(prefix))


def file_records(
    root: Path, skip: Sequence[str] = (BUNDLE_MANIFEST, BUNDLE_DIGEST)
) -> dict[str, FileRecord]:
    """Size and sha256 of every file under ``root`` (POSIX relative paths)."""
    return {
        name: FileRecord(record["bytes"], record["sha256"])
        for name, record in run_file_records(root).items()
        if name not in skip
    }


def read_manifest(path: str | Path) -> BundleManifest:
    """The manifest of the bundle in ``path``, once every file it lists exists
    with the listed size and sha256; otherwise :class:`BundleError` naming the
    file and what is wrong with it."""
    path = Path(path)
    manifest_path = path / BUNDLE_MANIFEST
    if not path.is_dir():
        raise BundleError(f"{path}: not a directory; a bundle is a folder made by retrikt export")
    if not manifest_path.is_file():
        raise BundleError(
            f"{manifest_path}: missing; not a retrikt bundle (make one with "
            "`retrikt export RUN_DIR OUT_DIR`)"
        )
    check_digest(path)
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{manifest_path}: not valid JSON (truncated or modified): {exc}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{manifest_path}: not a retrikt bundle manifest (no format {FORMAT!r})")
    if not isinstance(data.get("format_version"), int) or data["format_version"] > FORMAT_VERSION:
        raise BundleError(
            f"{manifest_path}: format_version {data.get('format_version')!r}; this retrikt "
            f"reads up to {FORMAT_VERSION} (upgrade retrikt-core)"
        )
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise BundleError(f"{manifest_path}: has no {', '.join(missing)}; truncated or modified")
    try:
        manifest = BundleManifest.from_dict(data)
    except (TypeError, AttributeError) as exc:
        raise BundleError(f"{manifest_path}: malformed ({exc}); truncated or modified") from None
    _check_values(manifest_path, manifest)
    _check_files(path, manifest)
    return manifest


def _check_values(where: Path, manifest: BundleManifest) -> None:
    """The settings ``bundle.json`` records are ones an export writes, so a
    hand-edited file fails here naming the field, not later in a traceback
    or, worse, as a student that quietly stops retrieving."""

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def bad(name: str, value: Any, want: str) -> None:
        raise BundleError(f"{where}: {name} is {value!r}; {want} (modified?)")

    def folder(value: Any) -> bool:
        return isinstance(value, dict) and isinstance(value.get("dir"), str)

    # The sections loading indexes into: the wrong shape is named here, not
    # left to a TypeError or KeyError deep in the loader.
    if not folder(manifest.student):
        bad("student", manifest.student, "expected an object with a dir")
    if not isinstance(manifest.stores, list):
        bad("stores", manifest.stores, "expected a list of objects with a dir")
    for i, store in enumerate(manifest.stores):
        if not folder(store):
            bad(f"stores[{i}]", store, "expected an object with a dir")
    if not isinstance(manifest.runtimes, dict) or not all(
        file is None or isinstance(file, str) for file in manifest.runtimes.values()
    ):
        bad("runtimes", manifest.runtimes, "expected an object of runtime: file name or null")
    for name, record in manifest.files.items():
        size, digest = record.bytes, record.sha256
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            bad(f"files[{name!r}].bytes", size, "expected a size in bytes")
        if not isinstance(digest, str):
            bad(f"files[{name!r}].sha256", digest, "expected a sha256 hex digest")
    names = manifest.task.get("label_names") if isinstance(manifest.task, dict) else None
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        bad("task.label_names", names, "expected a list of two or more label names")
    if len(set(names)) != len(names):
        # Two labels of one name would make the predictions ambiguous.
        bad("task.label_names", names, "expected distinct label names")
    if not isinstance(manifest.task.get("is_pair", False), bool):
        # Read as a truth value, "no" would make every input a sentence pair.
        bad("task.is_pair", manifest.task["is_pair"], "expected true or false")
    if not isinstance(manifest.default_runtime, str) or (
        manifest.default_runtime not in manifest.runtimes
    ):
        bad("default_runtime", manifest.default_runtime, f"has {', '.join(manifest.runtimes)}")
    settings = manifest.retrieval
    if (settings is None) != (not manifest.stores):
        bad("retrieval", asdict(settings) if settings else None, "a bundle with stores has it")
    if settings is None:
        return
    if not isinstance(settings.retriever, dict) or not isinstance(
        settings.retriever.get("plugin"), str
    ):
        bad("retrieval.retriever", settings.retriever, "expected a section with a plugin")
    if not (number(settings.k) and settings.k == int(settings.k) and settings.k >= 1):
        bad("retrieval.k", settings.k, "expected an integer >= 1")
    lam = settings.lam
    if lam is not None and not (number(lam) and 0 <= lam <= 1):
        bad("retrieval.lam", lam, "expected a number in [0, 1]")
    temperature = settings.knn_temperature
    if temperature is not None and not (
        number(temperature) and math.isfinite(temperature) and temperature > 0
    ):
        bad("retrieval.knn_temperature", temperature, "expected a finite number > 0")


def digest_line(manifest_path: Path) -> str:
    return f"{sha256_file(manifest_path)}  {BUNDLE_MANIFEST}\n"


def check_digest(path: Path) -> None:
    """``bundle.json`` is the file ``bundle.sha256`` was written for."""
    digest = path / BUNDLE_DIGEST
    if not digest.is_file():
        raise BundleError(
            f"{digest}: missing; every bundle since format 2 has one (export the run again "
            "if the bundle is older)"
        )
    if digest.read_text(encoding="utf-8", errors="replace") != digest_line(path / BUNDLE_MANIFEST):
        raise BundleError(
            f"{path / BUNDLE_MANIFEST}: sha256 does not match {BUNDLE_DIGEST} (bundle.json "
            "was modified or damaged)"
        )


def apply_retrieval(student: Student, settings: RetrievalSettings | None, where: Path) -> None:
    """Give the student the interpolation settings the bundle records, so what
    bundle.json says is what predicts."""
    if settings is None:
        return
    for name in ("lam", "knn_temperature"):
        value = getattr(settings, name)
        if value is None:
            continue
        if not hasattr(student, name):
            raise BundleError(
                f"{where / BUNDLE_MANIFEST}: records retrieval.{name}, which student "
                f"{student.name!r} has no setting for"
            )
        setattr(student, name, float(value))


def _check_files(path: Path, manifest: BundleManifest) -> None:
    listed = set(manifest.files)
    needed = [f"{manifest.student['dir']}/component.json"]
    needed += [f"{store['dir']}/component.json" for store in manifest.stores]
    needed += [f"{manifest.student['dir']}/{file}" for file in manifest.runtimes.values() if file]
    for name in needed:
        if name not in listed:
            raise BundleError(f"{path / BUNDLE_MANIFEST}: does not list {name}, which it uses")
    for name, record in manifest.files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise BundleError(
                f"{path / BUNDLE_MANIFEST}: lists a file outside the bundle: {name!r}"
            )
        file = path / name
        if not file.is_file():
            raise BundleError(f"{file}: missing (listed in {BUNDLE_MANIFEST})")
        size = file.stat().st_size
        if size != record.bytes:
            raise BundleError(
                f"{file}: {size} bytes, {BUNDLE_MANIFEST} says {record.bytes} "
                f"({'truncated' if size < record.bytes else 'modified'})"
            )
        if sha256_file(file) != record.sha256:
            raise BundleError(
                f"{file}: sha256 does not match {BUNDLE_MANIFEST} (modified, or a file "
                "from another bundle)"
            )


def load_student(path: Path, manifest: BundleManifest, runtime: str, plugins: Plugins) -> Student:
    """The bundle's student for ``runtime`` (``native`` or one of its ONNX files)."""
    folder = path / manifest.student["dir"]
    if runtime == NATIVE:
        student = load_component(folder, "student", plugins)
        assert isinstance(student, Student)
        return student
    cls = plugins.registry.get("student", manifest.student["name"])
    return cls.from_onnx(folder, manifest.runtimes[runtime])


def choose_runtime(manifest: BundleManifest, runtime: str, where: Path) -> str:
    """``auto`` is the bundle's default runtime; anything else must be in it."""
    if runtime == "auto":
        return manifest.default_runtime
    if runtime not in manifest.runtimes:
        have = ", ".join(manifest.runtimes)
        raise BundleError(f"{where}: has no {runtime!r} runtime; it has {have}")
    return runtime


class Bundle:
    """A loaded bundle: ``predict(texts)`` gives labels, probabilities and the
    store entries behind each prediction. Build it with :func:`load_bundle`."""

    def __init__(
        self,
        path: Path,
        manifest: BundleManifest,
        student: Student,
        retriever: Retriever | None,
        stores: list[KnowledgeStore],
        runtime: str,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.student = student
        self.retriever = retriever
        self.stores = stores
        self.runtime = runtime
        self.task: dict[str, Any] = manifest.task
        self.entries: dict[str, Knowledge] = {e.id: e for s in stores for e in s.entries()}

    @property
    def label_names(self) -> list[str]:
        return list(self.task["label_names"])

    def examples(self, inputs: Sequence[str | tuple[str, str] | Example]) -> list[Example]:
        """Texts, ``(text, text_pair)`` tuples or Examples as Examples."""
        out = []
        for i, item in enumerate(inputs):
            if isinstance(item, Example):
                out.append(item)
            elif isinstance(item, str):
                out.append(Example(text=item, id=f"input-{i}"))
            else:
                first, second = item
                out.append(Example(text=first, text_pair=second, id=f"input-{i}"))
        if self.task.get("is_pair"):
            unpaired = [i for i, e in enumerate(out) if not e.text_pair]
            if unpaired:
                raise InputError(
                    f"input {unpaired[0]}: this task takes sentence pairs; "
                    "give (premise, hypothesis) tuples"
                )
        else:
            paired = [i for i, e in enumerate(out) if e.text_pair]
            if paired:
                raise InputError(
                    f"input {paired[0]}: this task takes single sentences; give texts, "
                    "not (premise, hypothesis) tuples"
                )
        return out

    def predict_proba(self, inputs: Sequence[str | tuple[str, str] | Example]) -> list[list[float]]:
        """``[n][num_labels]`` probabilities (retrieval and interpolation included)."""
        examples = self.examples(inputs)
        neighbors = self.retriever.retrieve(examples) if self.retriever else None
        return self.student.predict_proba(examples, neighbors)

    def predict(
        self, inputs: Sequence[str | tuple[str, str] | Example], top: int = 3
    ) -> list[Prediction]:
        """A label, the probabilities and the ``top`` neighbours for each input."""
        examples = self.examples(inputs)
        neighbors = self.retriever.retrieve(examples) if self.retriever else None
        probs = self.student.predict_proba(examples, neighbors)
        return explain(self.label_names, probs, neighbors, self.entries, top)


def load_bundle(path: str | Path, runtime: str = "auto", plugins: Plugins | None = None) -> Bundle:
    """Check and load the bundle in ``path``. ``runtime`` is ``auto`` (the
    bundle's default: its ONNX export when it has one), ``native``, ``onnx`` or
    ``onnx-int8``. Raises :class:`BundleError` for a bundle that does not match
    its manifest, naming the file."""
    path = Path(path)
    manifest = read_manifest(path)
    runtime = choose_runtime(manifest, runtime, path)
    plugins = plugins or get_plugins()
    student = load_student(path, manifest, runtime, plugins)
    labels = getattr(student, "num_labels", None)
    if labels is not None and labels != len(manifest.task["label_names"]):
        raise BundleError(
            f"{path / BUNDLE_MANIFEST}: task.label_names names "
            f"{len(manifest.task['label_names'])} labels; the student predicts {labels} (modified?)"
        )
    apply_retrieval(student, manifest.retrieval, path)
    stores: list[KnowledgeStore] = []
    retriever: Retriever | None = None
    if manifest.retrieval is not None:
        for store in manifest.stores:
            loaded = load_component(path / store["dir"], "store", plugins)
            assert isinstance(loaded, KnowledgeStore)
            stores.append(loaded)
        retriever = bound_retriever(manifest.retrieval, stores, plugins)
        # A student that learned to retrieve searches its own keys; the stores
        # stay loaded for their entries (shown with predictions, added to).
        retriever = student.own_retriever() or retriever
    return Bundle(path, manifest, student, retriever, stores, runtime)


def bound_retriever(
    settings: RetrievalSettings, stores: list[KnowledgeStore], plugins: Plugins
) -> Retriever:
    """The retriever ``bundle.json`` records, over the bundle's loaded stores."""
    config = dict(settings.retriever)
    try:
        cls = plugins.registry.get("retriever", config.pop("plugin"))
        options = build_options("retrieval.retriever", cls.Options, config)
    except RetriktError as exc:  # an unknown plugin, option or value
        raise BundleError(f"{BUNDLE_MANIFEST}: {exc}") from None
    retriever = cls(options)
    retriever.bind(stores)
    return retriever


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` looks like a bundle (has a ``bundle.json``); it may
    still fail the checks of :func:`read_manifest`."""
    return (Path(path) / BUNDLE_MANIFEST).is_file()
