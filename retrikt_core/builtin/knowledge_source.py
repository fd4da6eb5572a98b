"""The ``knowledge`` source: entries taken from knowledge that a finished run
already gathered (its ``stages/extract/knowledge.jsonl``), so a store can mix
the generations of one run with the transfer set of another without writing
or reading anything again. Each entry keeps its source, its provenance and,
when the run's teacher is byte-for-byte the one that labelled it, its
teacher distribution."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrikt_core.api import (
    ConfigError,
    Example,
    Knowledge,
    KnowledgeGenerator,
    Task,
    atomic_write_text,
    dump_jsonl,
    file_fingerprint,
    jsonl_lines,
    option,
)

KNOWLEDGE_FILE = Path("stages") / "extract" / "knowledge.jsonl"


@dataclass
class KnowledgeSourceOptions:
    path: str = option(
        "", "a finished run directory, or a knowledge.jsonl file (as extract writes it)"
    )


class KnowledgeSource(KnowledgeGenerator):
    """A seeded sample of the entries another run's extract stage kept."""

    name = "knowledge"
    Options = KnowledgeSourceOptions
    conditional = False
    source = "knowledge"

    def __init__(self, options: KnowledgeSourceOptions | None = None) -> None:
        super().__init__(options)
        self.pool: list[Knowledge] = []
        self.origin = ""

    def file(self) -> Path:
        """The knowledge file the ``path`` option names (a run dir or the file),
        which must exist."""
        if not self.options.path:
            raise ConfigError("generator.path: the knowledge source needs a run directory or file")
        path = Path(self.options.path)
        file = path / KNOWLEDGE_FILE if path.is_dir() else path
        if not file.is_file():
            raise ConfigError(
                f"generator.path: no knowledge file at {file} (a run whose extract stage finished)"
            )
        return file

    def _read(self, task: Task) -> list[Knowledge]:
        file = self.file()
        try:
            lines = jsonl_lines(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"generator.path: cannot read {file} ({exc})") from None
        if not lines:
            raise ConfigError(f"generator.path: knowledge file {file} holds no entries")
        entries = []
        for number, line in lines:
            try:
                entries.append(Knowledge.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"generator.path: {file} line {number} is not a knowledge entry ({exc})"
                ) from None
        for number, entry in enumerate(entries, 1):
            labels = task.num_labels
            if (
                entry.teacher_probs
                and len(entry.teacher_probs) != labels
                or (entry.requested_label is not None and not 0 <= entry.requested_label < labels)
            ):
                raise ConfigError(
                    f"generator.path: {file} line {number} is not knowledge of a "
                    f"{labels}-label task (teacher_probs {list(entry.teacher_probs)}, "
                    f"requested_label {entry.requested_label})"
                )
        paired = sum(e.text_pair is not None for e in entries)
        if paired != (len(entries) if task.is_pair else 0):
            want = "pairs" if task.is_pair else "single texts"
            raise ConfigError(
                f"generator.path: task {task.name!r} reads {want}, but {paired} of the "
                f"{len(entries)} entries in {file} have a text_pair"
            )
        return entries

    def check(self, task: Task, n: int) -> None:
        """The file exists, reads as knowledge of this task's shape, and holds ``n`` entries."""
        available = len(self._read(task))
        if available < n:
            raise ConfigError(
                f"generator.path: {self.file()} holds {available} entries; extract asks for "
                f"{n} (lower extract.n_total or extract.n_per_label)"
            )

    def fingerprint(self) -> dict[str, Any]:
        return file_fingerprint(self.file())

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        self.pool = self._read(task)
        self.origin = str(self.file().resolve())
        by_source: dict[str, int] = {}
        for entry in self.pool:
            by_source[entry.source] = by_source.get(entry.source, 0) + 1
        return {"pool": len(self.pool), "origin": self.origin, "by_source": by_source}

    def generate(self, label: int | None, n: int, *, seed: int) -> list[Knowledge]:
        if label is not None:
            raise ValueError("the knowledge source is unconditional; call generate(None, n)")
        if n > len(self.pool):
            raise ValueError(
                f"generator: {self.origin} holds {len(self.pool)} entries; asked for {n} "
                "(lower extract.n_total or extract.n_per_label)"
            )
        return [
            Knowledge(
                text=e.text,
                text_pair=e.text_pair,
                requested_label=e.requested_label,
                teacher_probs=e.teacher_probs,
                source=e.source,
                provenance={**e.provenance, "taken_from": self.origin, "entry": e.id},
            )
            for e in random.Random(seed).sample(self.pool, n)
        ]

    def save_state(self, path: Path) -> None:
        atomic_write_text(path / "pool.jsonl", dump_jsonl(self.pool))
        atomic_write_text(path / "origin.json", json.dumps({"origin": self.origin}))

    def load_state(self, path: Path) -> None:
        lines = jsonl_lines((path / "pool.jsonl").read_text(encoding="utf-8"))
        self.pool = [Knowledge.from_dict(json.loads(line)) for _, line in lines]
        self.origin = json.loads((path / "origin.json").read_text())["origin"]
