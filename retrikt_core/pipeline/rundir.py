"""The run directory: every path a run writes, its manifest, its lock, and
loading the components its stages saved.

A run directory holds::

    RUN_DIR/manifest.json            one record per stage (key, status, counts, times)
    RUN_DIR/config.json, config.toml the resolved config and the file it came from
    RUN_DIR/metrics.json, report.md  written when ``evaluate`` finishes
    RUN_DIR/stages/<stage>/          a finished stage's outputs
    RUN_DIR/stages/<stage>.partial/  a stage being written (removed on the next run)
    RUN_DIR/stages/<stage>.shards/   its finished shards (kept until the stage commits)
    RUN_DIR/.lock                    held while a process writes the run

Everything that reads a run (predict, store inspection, export, bench,
report, ``show``) goes through :class:`RunDir` rather than joining paths.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json
from retrikt_core.errors import ArtifactError, PipelineError, RetriktError
from retrikt_core.interfaces import Component, read_component_meta
from retrikt_core.pipeline.digests import (
    CHECKSUM,
    manifest_checksum,
)
from retrikt_core.pipeline.locking import RunLock, lock_is_held
from retrikt_core.plugins import Plugins
from retrikt_core.records import Example, Knowledge, jsonl_lines
from retrikt_core.storekit.files import sha256_file

MANIFEST = "manifest.json"
# What a run writes into its folder (beside the atomic writes' hidden
# temporaries): a folder holding anything else is not taken as a run dir.
RUN_NAMES = frozenset(
    {MANIFEST, "config.json", "config.toml", "metrics.json", "report.md", "stages", ".lock"}
    | {"accuracy.png", "stages.png", "reinforce.png", "frontier.png"}
)
# The config sections that are knowledge stores, ``store`` first.
STORE_SECTIONS = ("store", "second_store")


def load_component(path: str | Path, kind: str, plugins: Plugins) -> Component:
    """A component saved with ``save_pretrained`` at ``path``, built by the
    plugin its ``component.json`` names."""
    path = Path(path)
    meta = read_component_meta(path)
    cls = plugins.registry.get(kind, meta["name"])
    try:
        return cls.from_pretrained(path)
    except RetriktError:
        raise
    except Exception as exc:  # a library's error for bytes it cannot read
        raise ArtifactError(
            f"{path}: cannot load this saved {kind} ({type(exc).__name__}: {exc}); "
            "its files may be damaged"
        ) from exc


class RunDir:
    """The paths and files of one run directory.

    What a reader takes from a run is checked first: :meth:`verify` compares a
    stage's files with the sizes and sha256 its manifest record lists,
    :meth:`check_chain` that each stage was computed from the outputs its
    upstream stages hold now (a rerun stopped half way leaves them apart), and
    :meth:`check_config` that ``config.json`` is the config a stage ran with.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._verified: set[tuple[str, str]] = set()

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

    def shards(self, name: str) -> Path:
        """A stage's finished shards: kept across reruns until the stage commits."""
        return self.stages_dir / f"{name}.shards"

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
            manifest = self.read_json(self.manifest_file)
            if not isinstance(manifest, dict) or not isinstance(manifest.get("stages"), dict):
                raise ArtifactError(f"{self.manifest_file}: not a retrikt run manifest")
            checksum = manifest.pop(CHECKSUM, None)
            if checksum is not None and checksum != manifest_checksum(manifest):
                raise ArtifactError(
                    f"{self.manifest_file}: its checksum does not match its content (edited "
                    "or damaged); restore it, or start the run in a new directory"
                )
            # A manifest written before checksums has none to catch a hand
            # edit, so each stage record's shape is checked as well.
            for name, record in manifest["stages"].items():
                if not isinstance(record, dict):
                    raise ArtifactError(
                        f"{self.manifest_file}: stage {name!r} is recorded as "
                        f"{type(record).__name__}, not an object; the file is damaged"
                    )
            return manifest
        return {"stages": {}}

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        # Stages keep pipeline order, so the file reads top to bottom. The
        # checksum is written with the content, in one atomic write.
        content = {k: v for k, v in manifest.items() if k != CHECKSUM}
        atomic_write_json(
            self.manifest_file, {**content, CHECKSUM: manifest_checksum(content)}, sort_keys=False
        )

    def finished_stages(self) -> set[str]:
        """Stages the manifest records as finished whose folder is there."""
        return {
            name
            for name, record in self.manifest()["stages"].items()
            if record.get("status") == "finished" and self.stage(name).is_dir()
        }

    def read_json(self, path: Path) -> Any:
        """A JSON file of the run; a damaged one is an error naming it."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(f"{path}: missing; is {self.path} a retrikt run?") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{path}: not readable JSON ({exc}); the file is damaged") from None

    def task_info(self) -> dict[str, Any]:
        """What ``prepare`` recorded of the task: label names, pair-ness, splits."""
        return self.read_json(self.task_file)

    def config(self) -> dict[str, Any]:
        config = self.read_json(self.config_file)
        # No checksum covers config.json: a hand edit to another JSON type is
        # caught here, one to its values by check_config.
        if not isinstance(config, dict):
            raise ArtifactError(
                f"{self.config_file}: holds {type(config).__name__}, not a config object; "
                "the file is damaged"
            )
        return config

    def metrics(self) -> dict[str, Any]:
        return self.read_json(self.metrics_file)

    def read_examples(self, stage: str, name: str) -> list[Example]:
        self.verify(stage)
        return [Example.from_dict(row) for row in self._jsonl(self.stage(stage) / name)]

    def read_knowledge(self) -> list[Knowledge]:
        self.verify("extract")
        return [Knowledge.from_dict(row) for row in self._jsonl(self.knowledge_file)]

    def _jsonl(self, path: Path) -> list[dict[str, Any]]:
        try:
            return [json.loads(line) for _, line in jsonl_lines(path.read_text(encoding="utf-8"))]
        except FileNotFoundError:
            raise ArtifactError(f"{path}: missing; is {self.path} a retrikt run?") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{path}: not readable JSON lines ({exc})") from None

    def lock(self) -> RunLock:
        return RunLock(self.path / ".lock")

    def is_locked(self) -> bool:
        """Whether a live process holds the run's lock (a stage recorded as
        running with no lock held was interrupted)."""
        return lock_is_held(self.path / ".lock")

    def create(self) -> None:
        """Make the run directory, or say why it cannot be one."""
        if self.path.exists() and not self.path.is_dir():
            raise PipelineError(
                f"{self.path}: exists and is not a directory; choose another run dir"
            )
        if self.path.is_dir() and not self.is_run():
            # A run writes config.json and stages/ into its folder: never into
            # a folder that holds something else (a bundle, a project).
            foreign = sorted(
                p.name
                for p in self.path.iterdir()
                if p.name not in RUN_NAMES and not p.name.startswith(".")
            )
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise PipelineError(
                    f"{self.path}: holds files that are not a retrikt run's ({shown}); "
                    "choose an empty or new run dir"
                )
        try:
            self.stages_dir.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise PipelineError(f"{self.path}: cannot write the run directory ({reason})") from None

    def stage_status(self, name: str, manifest: dict[str, Any] | None = None) -> str:
        """What a reader should believe of a stage: ``finished``, ``running``
        (a live process holds the lock), ``interrupted`` (recorded as running
        but no process holds the lock, or stopped), ``failed``, ``missing``
        (finished, but its folder is gone), ``stale`` (finished from an
        upstream output that has since been replaced) or ``not run``."""
        stages = (manifest or self.manifest())["stages"]
        record = stages.get(name)
        if record is None:
            return "not run"
        status = record.get("status", "?")
        if status == "running":
            return "running" if self.is_locked() else "interrupted"
        if status != "finished":
            return status
        if not self.stage(name).is_dir():
            return "missing"
        for need, output_id in (record.get("inputs") or {}).items():
            if stages.get(need, {}).get("output_id") != output_id:
                return "stale"
        return "finished"

    # --- checks -----------------------------------------------------------------
    def record(self, stage: str) -> dict[str, Any]:
        """A finished stage's manifest record, or an error naming the stage."""
        record = self.manifest()["stages"].get(stage, {})
        if record.get("status") != "finished" or not self.stage(stage).is_dir():
            status = record.get("status", "not run")
            if record.get("status") == "finished":
                status = "missing its folder"
            raise PipelineError(
                f"{self.path}: stage {stage!r} is {status}; "
                "run `retrikt run` with this run directory to finish it"
            )
        return record

    def verify(self, stage: str, advice: bool = True) -> None:
        """The stage's files are those its record lists (size and sha256);
        ``advice`` adds how to fix it to the error."""
        record = self.record(stage)
        files = record.get("files")
        if files is None or (stage, record.get("output_id", "")) in self._verified:
            return  # a run written before file records: nothing to compare with
        folder = self.stage(stage)
        fix = f"; rerun it: `retrikt run CONFIG --run-dir {self.path} --from {stage}`"
        fix = fix if advice else "; computing the stage again"
        for name, expected in files.items():
            file = folder / name
            if not file.is_file():
                raise ArtifactError(f"{file}: missing (stage {stage!r} wrote it){fix}")
            size = file.stat().st_size
            if size != expected["bytes"]:
                raise ArtifactError(
                    f"{file}: {size} bytes, stage {stage!r} wrote {expected['bytes']} "
                    f"(truncated or replaced){fix}"
                )
            if sha256_file(file) != expected["sha256"]:
                raise ArtifactError(
                    f"{file}: sha256 differs from what stage {stage!r} wrote (modified or "
                    f"damaged){fix}"
                )
        self._verified.add((stage, record.get("output_id", "")))

    def check_chain(self, stages: list[str]) -> None:
        """Each of ``stages``, and every stage they were computed from, is
        finished and was computed from the output its upstream stage holds now."""
        manifest = self.manifest()["stages"]
        seen: set[str] = set()
        todo = list(stages)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            record = manifest.get(name, {})
            if record.get("status") != "finished":
                raise PipelineError(
                    f"{self.path}: stage {name!r} is {record.get('status', 'not run')}; "
                    "run `retrikt run` with this run directory to finish it"
                )
            for need, output_id in (record.get("inputs") or {}).items():
                if manifest.get(need, {}).get("output_id") != output_id:
                    raise PipelineError(
                        f"{self.path}: stage {name!r} was computed from an earlier {need!r} "
                        "(a rerun stopped before it finished?); run the same `retrikt run` "
                        "command again to bring the run up to date"
                    )
                todo.append(need)

    def check_config(self, stages: list[str]) -> None:
        """``config.json`` holds the sections each stage ran with."""
        from retrikt_core.config import stable_hash

        config = self.config()
        for name in stages:
            record = self.record(name)
            sections = record.get("sections")
            if sections is None:
                continue
            found = stable_hash({s: config.get(s) for s in sections})
            if found != record.get("config_hash"):
                raise PipelineError(
                    f"{self.config_file}: its [{'], ['.join(sections)}] differ from what stage "
                    f"{name!r} ran with (a rerun stopped before it finished?); run the same "
                    "`retrikt run` command again"
                )

    def load(self, stage: str, subdir: str, kind: str, plugins: Plugins) -> Component:
        """A component a stage saved, after checking the stage's files."""
        self.verify(stage)
        return load_component(self.stage(stage) / subdir, kind, plugins)
