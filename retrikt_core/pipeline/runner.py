"""Running a pipeline: stage keys, skipping what is finished, reusing what a
stage cache holds, and committing each stage's folder atomically.

Each stage writes into ``RUN_DIR/stages/<stage>.partial/`` and, once done,
that directory is renamed to ``RUN_DIR/stages/<stage>/`` and the stage is
recorded in ``RUN_DIR/manifest.json`` (both atomically). A stage's key hashes
the config sections it reads and the outputs of the stages it reads from, so a
rerun skips finished stages whose inputs did not change and redoes those whose
inputs did. An interrupted stage leaves only its ``.partial`` directory,
which the next run removes."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrikt_core.atomic import atomic_write_json, atomic_write_text, commit_directory
from retrikt_core.config import ConfigError, RunConfig, section_kind, stable_hash
from retrikt_core.errors import ArtifactError
from retrikt_core.execution import Executor
from retrikt_core.interfaces import Task
from retrikt_core.pipeline.cache import StageCache
from retrikt_core.pipeline.checks import preflight
from retrikt_core.pipeline.definition import STAGE_NAMES, STAGES
from retrikt_core.pipeline.digests import (
    file_record,
    file_records,
    output_digest,
    records_digest,
)
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.pipeline.stage import SOURCE_SECTIONS, Stage, StageContext, seed_everything
from retrikt_core.plugins import Plugins


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Pipeline:
    """Runs the stages of a validated config in a run directory."""

    def __init__(
        self,
        config: RunConfig,
        plugins: Plugins,
        run_dir: str | Path,
        echo: Callable[[str], None] | None = None,
        stage_cache: StageCache | None = None,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.rundir = RunDir(run_dir)
        self.run_dir = self.rundir.path
        self.echo = echo or (lambda message: None)
        # Finished stages shared between runs, by key (a bench's runs share one).
        self.stage_cache = stage_cache
        name, options = config.components["task"]
        self.task: Task = plugins.registry.get("task", name)(options)

    # --- manifest -------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return self.rundir.manifest()

    def finished_stages(self) -> set[str]:
        return self.rundir.finished_stages()

    def stage_key(self, stage: Stage, manifest: dict[str, Any]) -> str:
        inputs: dict[str, Any] = {s: self.config.section_dict(s) for s in stage.sections}
        inputs["seed"] = self.config.run.seed
        # Upstream *outputs* (not just keys): a forced rerun upstream invalidates us.
        inputs["needs"] = {n: manifest["stages"].get(n, {}).get("output_id") for n in stage.needs}
        # A new release of the plugin behind a component may compute differently.
        inputs["versions"] = {
            s: self.component_version(s) for s in stage.sections if s in self.config.components
        }
        extra = stage.extra(self) if stage.extra is not None else None
        if extra is not None:  # None adds nothing, so keys made before an extra stay
            inputs["extra"] = extra
        return stable_hash(inputs)

    def source_fingerprints(self) -> dict[str, Any] | None:
        """What the knowledge sources read from files, or None if nothing."""
        prints = {}
        for section in SOURCE_SECTIONS:
            if self.config.has(section):
                name, options = self.config.components[section]
                found = self.plugins.registry.get("generator", name)(options).fingerprint()
                if found is not None:
                    prints[section] = found
        return prints or None

    def executor(self) -> Executor:
        """What runs the sharded work: the ``[executor]`` section, else ``local``."""
        name, options = self.config.components.get("executor", ("local", None))
        return self.plugins.registry.get("executor", name)(options)

    def component_version(self, section: str) -> str:
        """`package==version` of the plugin behind ``section``: a new release may
        compute differently, so stage keys and label provenance include it."""
        entry = self.plugins.registry.entry(section_kind(section), self.config.plugin(section))
        info = self.plugins.infos.get(entry.plugin)
        return f"{entry.package}=={info.version if info else 'unknown'}"

    # --- running --------------------------------------------------------------
    def check(self) -> None:
        """Checks that need no model (see :mod:`retrikt_core.pipeline.checks`)."""
        preflight(self)

    def is_complete(self) -> bool:
        """Whether every stage is finished under its current key and the run's
        ``metrics.json`` is the one its ``evaluate`` stage wrote: a rerun would
        skip every stage."""
        rundir = self.rundir
        if not (rundir.metrics_file.is_file() and rundir.evaluated_metrics_file.is_file()):
            return False
        manifest = self.manifest()
        for stage in STAGES:
            if not self._is_current(stage, manifest):
                return False
        return rundir.metrics() == rundir.read_json(rundir.evaluated_metrics_file)

    def _intact(self, stage: Stage) -> bool:
        """A finished stage's files are as it wrote them; if not, say which
        file changed and compute the stage again rather than build on it."""
        try:
            self.rundir.verify(stage.name, advice=False)
        except ArtifactError as exc:
            self.echo(f"[yellow]↻ {stage.name:<9} {exc}[/yellow]")
            return False
        return True

    def _is_current(self, stage: Stage, manifest: dict[str, Any]) -> bool:
        """Finished, under the key its inputs give now, with its folder there."""
        record = manifest["stages"].get(stage.name, {})
        return (
            record.get("status") == "finished"
            and record.get("key") == self.stage_key(stage, manifest)
            and self.rundir.stage(stage.name).is_dir()
        )

    def run(self, from_stage: str | None = None, until_stage: str | None = None) -> dict | None:
        for flag, value in (("--from", from_stage), ("--until", until_stage)):
            if value is not None and value not in STAGE_NAMES:
                raise ConfigError(
                    f"{flag} {value!r}: unknown stage; stages: {', '.join(STAGE_NAMES)}"
                )
        first = STAGE_NAMES.index(from_stage) if from_stage else 0
        last = STAGE_NAMES.index(until_stage) if until_stage else len(STAGES) - 1
        if first > last:
            raise ConfigError(f"--from {from_stage} comes after --until {until_stage}")
        self.check()
        self.rundir.create()
        with self.rundir.lock():
            self._clean_partials()
            self._write_config()
            for index, stage in enumerate(STAGES[: last + 1]):
                self._run_stage(stage, force=index >= first and from_stage is not None)
            if last == len(STAGES) - 1:
                return self._finish()
        return None

    def _run_stage(self, stage: Stage, force: bool) -> None:
        manifest = self.manifest()
        key = self.stage_key(stage, manifest)
        record = manifest["stages"].get(stage.name, {})
        final = self.rundir.stage(stage.name)
        if not force and self._is_current(stage, manifest) and self._intact(stage):
            self.echo(f"[dim]↷ {stage.name:<9} unchanged, skipped[/dim]")
            if self.stage_cache is not None:
                self.stage_cache.put(stage.name, key, final, record, self.run_dir)
            return
        reused = None
        if not force and self.stage_cache is not None:
            reused = self.stage_cache.fetch(stage.name, key, final)
        if reused is not None:
            # Same key, so the same output: the record (output_id included) comes
            # along, and downstream keys match those of the run that computed it.
            manifest["stages"][stage.name] = reused
            self.rundir.write_manifest(manifest)
            if self._intact(stage):
                self.echo(f"[cyan]⇉ {stage.name:<9} reused from {reused['reused_from']}[/cyan]")
                return
            # A damaged cache entry is dropped, so no later run takes it either.
            self.stage_cache.drop(stage.name, key)
            record = {}
        seed_everything(int(stable_hash([self.config.run.seed, stage.name]), 16) % 2**31)
        partial = self.rundir.partial(stage.name)
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        started = time.perf_counter()
        cpu_started = time.process_time()
        manifest["stages"][stage.name] = {"status": "running", "key": key, "started_at": _now()}
        self.rundir.write_manifest(manifest)
        self.plugins.hook.stage_started(
            stage=stage.name, run_dir=str(self.run_dir), config=self.config.to_dict()
        )
        self.echo(f"▶ {stage.name:<9} {stage.description}")
        try:
            counts = stage.run(StageContext(self, stage, partial))
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            shutil.rmtree(partial, ignore_errors=True)
            manifest = self.manifest()
            manifest["stages"][stage.name].update(
                status=status, error=f"{type(exc).__name__}: {exc}", ended_at=_now()
            )
            self.rundir.write_manifest(manifest)
            raise
        seconds = time.perf_counter() - started
        output_id = uuid.uuid4().hex[:12]
        files = file_records(partial)
        previous = record  # the record before this run (still the finished one, if any)
        if (
            previous.get("status") == "finished"
            and previous.get("output_id")
            and final.is_dir()
            and records_digest(files) == output_digest(final)
        ):
            # Byte-identical outputs keep their id, so downstream keys still match
            # (early cut-off: re-preparing unchanged data does not retune the LLM).
            output_id = previous["output_id"]
        commit_directory(partial, final)
        shutil.rmtree(self.rundir.shards(stage.name), ignore_errors=True)
        record = {
            "status": "finished",
            "key": key,
            "config_hash": self.config.section_hash(*stage.sections),
            "sections": list(stage.sections),
            "output_id": output_id,
            # What it was computed from, and what it wrote: readers check both.
            "inputs": {n: manifest["stages"].get(n, {}).get("output_id") for n in stage.needs},
            "files": files,
            "started_at": manifest["stages"][stage.name]["started_at"],
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(time.process_time() - cpu_started, 3),
            "counts": counts,
        }
        manifest = self.manifest()
        manifest["stages"][stage.name] = record
        # Downstream stages now read other inputs; their records stay until they rerun.
        self.rundir.write_manifest(manifest)
        if self.stage_cache is not None:
            self.stage_cache.put(stage.name, key, final, record, self.run_dir)
        self.plugins.hook.stage_finished(stage=stage.name, run_dir=str(self.run_dir), record=record)
        summary = ", ".join(f"{k}={_short(v)}" for k, v in counts.items())
        self.echo(f"[green]✓ {stage.name:<9}[/green] {seconds:6.1f}s  {summary}")

    def _finish(self) -> dict[str, Any]:
        from retrikt_core.pipeline.report import write_report

        metrics = self.rundir.read_json(self.rundir.evaluated_metrics_file)
        atomic_write_json(self.rundir.metrics_file, metrics, sort_keys=False)
        write_report(self.run_dir, metrics, self.manifest(), self.config)
        self.plugins.hook.run_finished(run_dir=str(self.run_dir), metrics=metrics)
        return metrics

    def _write_config(self) -> None:
        manifest = self.manifest()
        manifest["config_hash"] = self.config.config_hash()
        manifest["task"] = self.task.name
        manifest["retrikt_version"] = _version()
        atomic_write_json(self.rundir.config_file, self.config.to_dict())
        manifest.pop("config_source", None)
        if self.config.source and Path(self.config.source).is_file():
            source = Path(self.config.source).read_text()
            atomic_write_text(self.rundir.config_source_file, source)
            # A bundle copies the file: its record lets export check the copy.
            manifest["config_source"] = file_record(self.rundir.config_source_file)
        self.rundir.write_manifest(manifest)

    def _clean_partials(self) -> None:
        for partial in self.rundir.stages_dir.glob("*.partial"):
            shutil.rmtree(partial, ignore_errors=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def _version() -> str:
    from retrikt_core import __version__

    return __version__
