"""What a run's knowledge store holds: size, label balance, sources, sample
entries, and the nearest neighbours of a query text (``retrikt store inspect``).
Loads only the stores, never the generator, teacher or student."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrikt_core.errors import ArtifactError
from retrikt_core.interfaces import KnowledgeStore
from retrikt_core.pipeline import RunDir
from retrikt_core.plugins import Plugins, get_plugins
from retrikt_core.records import Example, Knowledge


@dataclass
class StoreSummary:
    """One store of a run, summarised."""

    section: str
    plugin: str
    entries: int
    bytes: int
    encoder: str
    teacher_labels: dict[str, int]
    requested_labels: dict[str, int]
    label_consistency: float | None
    mean_confidence: float
    sources: dict[str, int]
    samples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _entry_row(entry: Knowledge, labels: list[str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "text": entry.text,
        "text_pair": entry.text_pair,
        "teacher_label": labels[entry.teacher_label] if entry.teacher_probs else None,
        "confidence": max(entry.teacher_probs) if entry.teacher_probs else None,
        "source": entry.source,
    }


def summarize(
    section: str, store: KnowledgeStore, folder: Path, labels: list[str], samples: int, seed: int
) -> StoreSummary:
    entries = store.entries()
    scored = [e for e in entries if e.teacher_probs]
    requested = [e for e in scored if e.requested_label is not None]
    encoder = getattr(store, "encoder_name", None)
    picked = random.Random(seed).sample(entries, min(samples, len(entries)))
    return StoreSummary(
        section=section,
        plugin=store.name,
        entries=len(entries),
        bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        encoder=encoder() if callable(encoder) else "",
        teacher_labels=dict(Counter(labels[e.teacher_label] for e in scored).most_common()),
        requested_labels=dict(Counter(labels[e.requested_label] for e in requested).most_common()),
        label_consistency=(
            sum(e.teacher_label == e.requested_label for e in requested) / len(requested)
            if requested
            else None
        ),
        mean_confidence=(
            sum(max(e.teacher_probs) for e in scored) / len(scored) if scored else 0.0
        ),
        sources=dict(Counter(e.source for e in entries).most_common()),
        samples=[_entry_row(e, labels) for e in picked],
    )


class RunStores:
    """The knowledge store(s) a run's ``index`` stage built."""

    def __init__(self, run_dir: str | Path, plugins: Plugins | None = None) -> None:
        run = RunDir(run_dir)
        self.run_dir = run.path
        plugins = plugins or get_plugins()
        index = run.stage("index")
        if (run.path / "bundle.json").is_file() and not run.is_run():
            raise ArtifactError(
                f"{run.path}: a bundle, not a run; `store inspect` reads a run's stores "
                "(a bundle's predictions show its neighbours: `retrikt predict BUNDLE TEXT`)"
            )
        if not index.is_dir() or not run.task_file.is_file():
            raise ArtifactError(
                f"{index}: missing; has the run at {self.run_dir} finished its index stage?"
            )
        task = run.task_info()
        self.labels: list[str] = task["label_names"]
        self.is_pair: bool = task["is_pair"]
        self.folders = dict(run.store_dirs())
        self.stores: dict[str, KnowledgeStore] = {
            section: run.load("index", section, "store", plugins) for section in self.folders
        }

    def summaries(self, samples: int = 5, seed: int = 0) -> list[StoreSummary]:
        return [
            summarize(section, store, self.folders[section], self.labels, samples, seed)
            for section, store in self.stores.items()
        ]

    def nearest(self, query: Example, k: int = 5) -> dict[str, list[dict[str, Any]]]:
        """Per store, the ``k`` entries nearest ``query`` with their scores."""
        out: dict[str, list[dict[str, Any]]] = {}
        for section, store in self.stores.items():
            by_id = {e.id: e for e in store.entries()}
            found = store.search([query], k)
            out[section] = [
                {"score": score, **_entry_row(by_id[i], self.labels)}
                for i, score in zip(found.ids[0], found.scores[0], strict=True)
            ]
        return out
