"""The run directory: every path a run writes, its manifest, its lock, and
loading the components its stages saved.

A run directory holds::

    RUN_DIR/manifest.json            one record per stage (key, status, counts, times)
    RUN_DIR/config.json, config.toml the resolved config and the file it came from
    RUN_DIR/metrics.json, report.md  written when ``evaluate`` finishes
    RUN_DIR/stages/<stage>/          a finished stage's outputs
    RUN_DIR/stages/<stage>.partial/  a stage being written (removed on the next run)
    RUN_DIR/.lock                    held while a process writes the run

Everything that reads a run (predict, store inspection, export, bench,
report, ``show``) goes through :class:`RunDir` rather than joining paths.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json
from retrikt_core.errors import PipelineError
from retrikt_core.interfaces import Component, read_component_meta
from retrikt_core.plugins import Plugins
from retrikt_core.records import Example, Knowledge
from retrikt_core.storekit.files import sha256_file

MANIFEST = "manifest.json"
# The config sections that are knowledge stores, ``store`` first.
STORE_SECTIONS = ("store", "second_store")


def load_component(path: str | Path, kind: str, plugins: Plugins) -> Component:
    """A component saved with ``save_pretrained`` at ``path``, built by the
    plugin its ``component.json`` names."""
    path = Path(path)
    meta = read_component_meta(path)
    return plugins.registry.get(kind, meta["name"]).from_pretrained(path)


def output_digest(folder: Path) -> str:
    """sha256 over the relative paths and bytes of every file under ``folder``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(file).encode("ascii"))
    return digest.hexdigest()


class RunLock:
    """An advisory lock so two processes never write one directory at once."""

    def __init__(self, path: Path, busy: str | None = None) -> None:
        self.path = path
        self.busy = busy or f"{path.parent}: another retrikt process is using this run directory"

    def __enter__(self) -> RunLock:
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise PipelineError(self.busy) from None
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


class RunDir:
    """The paths and files of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- paths ------------------------------------------------------------------
    @property
    def manifest_file(self) -> Path:
        return self.path / MANIFEST

    @property
    def config_file(self) -> Path:
        """The resolved config (``config.json``)."""
        return self.path / "config.json"

    @property
    def config_source_file(self) -> Path:
        """A copy of the TOML file the config came from (``config.toml``)."""
        return self.path / "config.toml"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.json"

    @property
    def report_file(self) -> Path:
        return self.path / "report.md"

    @property
    def stages_dir(self) -> Path:
        return self.path / "stages"

    def stage(self, name: str) -> Path:
        """A finished stage's folder."""
        return self.stages_dir / name

    def partial(self, name: str) -> Path:
        """The folder a stage writes before it is committed."""
        return self.stages_dir / f"{name}.partial"

    @property
    def task_file(self) -> Path:
        return self.stage("prepare") / "task.json"

    @property
    def eval_file(self) -> Path:
        return self.stage("prepare") / "eval.jsonl"

    @property
    def knowledge_file(self) -> Path:
        return self.stage("extract") / "knowledge.jsonl"

    @property
    def history_file(self) -> Path:
        """The RL history ``reinforce`` writes."""
        return self.stage("reinforce") / "history.jsonl"

    @property
    def predictions_file(self) -> Path:
        return self.stage("evaluate") / "predictions.jsonl"

    @property
    def evaluated_metrics_file(self) -> Path:
        """The metrics ``evaluate`` wrote (``metrics.json`` is a copy of them)."""
        return self.stage("evaluate") / "metrics.json"

    def student_dir(self, method: str) -> Path:
        return self.stage("train") / method

    def store_dirs(self) -> list[tuple[str, Path]]:
        """``(config section, folder)`` of each store ``index`` built, in config order."""
        index = self.stage("index")
        return [(s, index / s) for s in STORE_SECTIONS if (index / s).is_dir()]

    # --- files ------------------------------------------------------------------
    def is_run(self) -> bool:
        return self.manifest_file.is_file()

    def manifest(self) -> dict[str, Any]:
        """The manifest, or an empty one for a run not started."""
        if self.manifest_file.is_file():
            return json.loads(self.manifest_file.read_text())
        return {"stages": {}}

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        # Stages keep pipeline order, so the file reads top to bottom.
        atomic_write_json(self.manifest_file, manifest, sort_keys=False)

    def finished_stages(self) -> set[str]:
        """Stages the manifest records as finished whose folder is there."""
        return {
            name
            for name, record in self.manifest()["stages"].items()
            if record.get("status") == "finished" and self.stage(name).is_dir()
        }

    def read_json(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    def task_info(self) -> dict[str, Any]:
        """What ``prepare`` recorded of the task: label names, pair-ness, splits."""
        return self.read_json(self.task_file)

    def config(self) -> dict[str, Any]:
        return self.read_json(self.config_file)

    def metrics(self) -> dict[str, Any]:
        return self.read_json(self.metrics_file)

    def read_examples(self, stage: str, name: str) -> list[Example]:
        lines = (self.stage(stage) / name).read_text(encoding="utf-8").splitlines()
        return [Example.from_dict(json.loads(line)) for line in lines if line]

    def read_knowledge(self) -> list[Knowledge]:
        lines = self.knowledge_file.read_text("utf-8").splitlines()
        return [Knowledge.from_dict(json.loads(line)) for line in lines if line]

    def lock(self) -> RunLock:
        return RunLock(self.path / ".lock")
