"""``retrikt export``: a finished run's student, its store(s), the retrieval
settings, the run's config and metrics and a model card, as a bundle that
:func:`retrikt_core.bundle.load.load_bundle` loads (see :mod:`retrikt_core.bundle.load`
for the layout). Optionally the student's ONNX export and an int8 copy, each
checked against the native student on the run's eval split. And
:func:`push_to_hub` for users with a network."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text, commit_directory
from retrikt_core.bundle.load import (
    BUNDLE_DIGEST,
    BUNDLE_MANIFEST,
    NATIVE,
    BundleError,
    BundleManifest,
    RetrievalSettings,
    digest_line,
    file_records,
    is_bundle,
    load_bundle,
    read_manifest,
)
from retrikt_core.bundle.model_card import CardInputs, model_card
from retrikt_core.interfaces import COMPONENT_FILE, KnowledgeStore, Student
from retrikt_core.pipeline import RunDir
from retrikt_core.plugins import Plugins, get_plugins
from retrikt_core.records import Example, jsonl_lines
from retrikt_core.storekit import sha256_file

QUANTIZATIONS = ("int8",)
RETRIEVING_METHOD = "retrikt_student"
# The run's students a bundle can hold (the SetFit baseline is measured, not shipped).
EXPORTABLE = (RETRIEVING_METHOD, "kd_student", "kshot_student")


@dataclass
class ExportOptions:
    """What ``retrikt export`` writes."""

    method: str = RETRIEVING_METHOD
    """Which student of the run: ``retrikt_student`` (with its store),
    ``kd_student`` or ``kshot_student``."""
    onnx: bool = False
    """Also export the student's own model to ONNX (``Student.export_onnx``)."""
    quantize: str | None = None
    """``int8``: also a dynamically quantised ONNX model (implies ``onnx``)."""
    overwrite: bool = False
    """Replace ``OUT_DIR`` when it already holds a bundle (never another folder)."""
    command: str | None = None
    """The command recorded in the model card (default: rebuilt from the options)."""


@dataclass
class RunFiles:
    """The finished run an export reads from."""

    run_dir: Path
    method: str

    @property
    def run(self) -> RunDir:
        return RunDir(self.run_dir)

    @property
    def stages(self) -> Path:
        return self.run.stages_dir

    @property
    def student_dir(self) -> Path:
        return self.run.student_dir(self.method)

    def store_dirs(self) -> list[tuple[str, Path]]:
        """``(config section, folder)`` of each saved store the run indexed, in config order."""
        return [(s, path) for s, path in self.run.store_dirs() if (path / COMPONENT_FILE).is_file()]

    def check(self) -> None:
        run = self.run
        needed = [
            run.manifest_file,
            run.metrics_file,
            run.config_file,
            run.task_file,
            self.student_dir / COMPONENT_FILE,
        ]
        for path in needed:
            if not path.is_file():
                raise BundleError(
                    f"{path}: missing; is {self.run_dir} a finished run with a {self.method}?"
                )
        if self.method == RETRIEVING_METHOD and not self.store_dirs():
            raise BundleError(f"{self.stages / 'index'}: holds no store; did the run index one?")
        # A bundle is one consistent run: every stage computed from the outputs
        # upstream holds now, config.json the config they ran with, every file
        # as its stage wrote it, and metrics.json the evaluate stage's.
        run.check_chain(["evaluate"])
        run.check_config(sorted(run.finished_stages()))
        for stage in ("prepare", "train", "index", "evaluate"):
            run.verify(stage)
        source = run.manifest().get("config_source")
        copied = run.config_source_file
        if source and copied.is_file() and sha256_file(copied) != source["sha256"]:
            raise BundleError(
                f"{copied}: not the file the run was started with (edited or damaged); "
                "restore it or run the same command again"
            )
        if run.metrics() != run.read_json(run.evaluated_metrics_file):
            raise BundleError(
                f"{run.metrics_file}: not the metrics of the evaluate stage; run the same "
                "`retrikt run` command again to finish the run"
            )

    def json(self, *parts: str) -> Any:
        return self.run.read_json(self.run_dir.joinpath(*parts))

    def eval_examples(self) -> list[Example]:
        path = self.run.eval_file
        if not path.is_file():
            return []
        lines = jsonl_lines(path.read_text(encoding="utf-8"))
        return [Example.from_dict(json.loads(line)) for _, line in lines]

    def predictions(self) -> list[list[float]] | None:
        """The run's own evaluation probabilities for the method, if it kept them."""
        path = self.run.predictions_file
        if not path.is_file():
            return None
        rows = [json.loads(line) for _, line in jsonl_lines(path.read_text(encoding="utf-8"))]
        if not rows or any(self.method not in row for row in rows):
            return None
        return [row[self.method] for row in rows]


def _package(plugins: Plugins, kind: str, name: str) -> str:
    return plugins.registry.entry(kind, name).package


def default_command(run_dir: Path, out_dir: Path, options: ExportOptions) -> str:
    parts = ["retrikt", "export", str(run_dir), str(out_dir)]
    if options.method != RETRIEVING_METHOD:
        parts += ["--method", options.method]
    if options.onnx and not options.quantize:
        parts.append("--onnx")
    if options.quantize:
        parts += ["--quantize", options.quantize]
    return shlex.join(parts)


def _prepare_out(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise BundleError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not is_bundle(out_dir):
            raise BundleError(
                f"{out_dir}: exists and is not a bundle; choose an empty or new folder"
            )
        if not overwrite:
            raise BundleError(f"{out_dir}: already holds a bundle; pass --overwrite to replace it")
    partial = out_dir.with_name(out_dir.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def _check_runtimes(
    partial: Path, manifest: BundleManifest, run: RunFiles, plugins: Plugins, batch_size: int
) -> dict[str, Any]:
    """Load the written bundle once per runtime and score the run's eval split
    in the run's evaluation batches: accuracy, agreement with the native
    runtime, largest probability gap, and how closely the native runtime
    reproduces the run's own predictions."""
    import numpy as np

    examples = run.eval_examples()
    if not examples:
        return {}
    gold = np.array([e.label for e in examples])
    probs = {}
    for runtime in manifest.runtimes:
        bundle = load_bundle(partial, runtime, plugins)
        rows: list[list[float]] = []
        for start in range(0, len(examples), batch_size):
            rows += bundle.predict_proba(examples[start : start + batch_size])
        probs[runtime] = np.asarray(rows, dtype=np.float64)
    native = probs[NATIVE]
    checks: dict[str, Any] = {"examples": len(examples), "runtimes": {}}
    for runtime, p in probs.items():
        checks["runtimes"][runtime] = {
            "accuracy": float((p.argmax(1) == gold).mean()),
            "same_label": float((p.argmax(1) == native.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(p - native).max()),
        }
    own = run.predictions()
    if own is not None and len(own) == len(examples):
        checks["native_vs_run"] = float(np.abs(native - np.asarray(own)).max())
    return checks


def _readable(root: Path) -> None:
    """Atomic writes leave files private (0600); a bundle is meant to be
    copied and served, so give its files the umask's usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for file in root.rglob("*"):
        if file.is_file():
            file.chmod(0o666 & ~umask)


def write_manifest(partial: Path, manifest: BundleManifest) -> None:
    """``bundle.json`` listing every file under ``partial``, and its digest."""
    manifest.files = file_records(partial)
    atomic_write_json(partial / BUNDLE_MANIFEST, manifest.to_dict(), sort_keys=False)
    atomic_write_text(partial / BUNDLE_DIGEST, digest_line(partial / BUNDLE_MANIFEST))


def export_bundle(
    run_dir: str | Path,
    out_dir: str | Path,
    options: ExportOptions | None = None,
    plugins: Plugins | None = None,
    echo: Callable[[str], None] | None = None,
) -> BundleManifest:
    """Write the bundle of ``options.method`` from the finished run in
    ``run_dir`` into ``out_dir`` (atomically: a failed export leaves no
    half-written bundle) and return its manifest."""
    options = options or ExportOptions()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    echo = echo or (lambda message: None)
    if options.quantize is not None and options.quantize not in QUANTIZATIONS:
        raise BundleError(f"--quantize {options.quantize!r}: supported: {', '.join(QUANTIZATIONS)}")
    if options.method not in EXPORTABLE:
        raise BundleError(
            f"--method {options.method}: a bundle holds one of the run's students: "
            f"{', '.join(EXPORTABLE)}"
        )
    onnx = options.onnx or options.quantize is not None
    run = RunFiles(run_dir, options.method)
    run.check()
    plugins = plugins or get_plugins()
    config, metrics, run_manifest = (
        run.json("config.json"),
        run.json("metrics.json"),
        run.json("manifest.json"),
    )
    partial = _prepare_out(out_dir, options.overwrite)
    try:
        student = run.run.load("train", options.method, "student", plugins)
        assert isinstance(student, Student)
        student.save_pretrained(partial / "student")
        runtimes: dict[str, str | None] = {NATIVE: None}
        if onnx:
            echo(f"exporting {student.name} to ONNX" + (" and int8" if options.quantize else ""))
            try:
                runtimes.update(student.export_onnx(partial / "student", options.quantize))
            except NotImplementedError as exc:
                raise BundleError(f"--onnx: {exc}") from None
        stores: list[dict[str, Any]] = []
        retrieval = None
        if options.method == RETRIEVING_METHOD:
            for section, _ in run.store_dirs():
                store = run.run.load("index", section, "store", plugins)
                assert isinstance(store, KnowledgeStore)
                store.save_pretrained(partial / "stores" / section)
                stores.append(
                    {
                        "dir": f"stores/{section}",
                        "section": section,
                        "name": store.name,
                        "package": _package(plugins, "store", store.name),
                        "entries": len(store),
                    }
                )
            retrieval = _retrieval_settings(config, run_manifest, options.method, plugins)
        for name in ("config.json", "config.toml", "metrics.json"):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, partial / name)
        manifest = BundleManifest(
            task=run.json("stages", "prepare", "task.json"),
            method=options.method,
            student={
                "dir": "student",
                "name": student.name,
                "package": _package(plugins, "student", student.name),
                "params": student.num_parameters(),
            },
            stores=stores,
            runtimes=runtimes,
            default_runtime=list(runtimes)[-1],
            retrieval=retrieval,
            source={
                "run_dir": str(run_dir),
                "config_hash": metrics.get("config_hash"),
                "task": metrics.get("task"),
            },
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            retrikt_version=_version(),
        )
        write_manifest(partial, manifest)
        for store in manifest.stores:
            store["bytes"] = manifest.bytes_under(store["dir"])
        echo("checking each runtime on the run's eval split")
        batch_size = int(config.get("evaluate", {}).get("batch_size", 32))
        manifest.checks = _check_runtimes(partial, manifest, run, plugins, batch_size)
        command = options.command or default_command(run_dir, out_dir, options)
        card = CardInputs(manifest, metrics, config, run_manifest, command)
        atomic_write_text(partial / "README.md", model_card(card))
        write_manifest(partial, manifest)
        _readable(partial)
        commit_directory(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest


def _retrieval_settings(
    config: dict[str, Any], run_manifest: dict[str, Any], method: str, plugins: Plugins
) -> RetrievalSettings:
    section = dict(config["retriever"])
    cls = plugins.registry.get("retriever", section["plugin"])
    options = {k: v for k, v in section.items() if k != "plugin"}
    k = cls(cls.Options(**options)).k
    trained = run_manifest.get("stages", {}).get("train", {}).get("counts", {}).get(method, {})
    lam, temperature = trained.get("lam"), trained.get("knn_temperature")
    return RetrievalSettings(
        retriever=section,
        k=int(k),
        lam=None if lam is None else float(lam),
        knn_temperature=None if temperature is None else float(temperature),
    )


def push_to_hub(
    bundle_dir: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
) -> str:
    """Upload a checked bundle to the Hugging Face Hub as a model repository
    (created if needed) and return the commit URL. Needs ``huggingface_hub``
    and a network; nothing in retrikt calls it by default."""
    from huggingface_hub import HfApi

    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)  # never upload a bundle that fails its own checks
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(bundle_dir),
        repo_id=repo_id,
        repo_type="model",
        commit_message=commit_message
        or f"retrikt bundle: {manifest.task['name']} {manifest.method}",
    )
    return str(getattr(info, "commit_url", info))


def _version() -> str:
    from retrikt_core import __version__

    return __version__
