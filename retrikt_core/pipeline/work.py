"""The sharded work of the pipeline's stages, as executors run it."""

from __future__ import annotations

from typing import Any

from retrikt_core.execution import ShardWork
from retrikt_core.records import Example, Knowledge


def _load(path: str, kind: str) -> Any:
    from retrikt_core.pipeline.rundir import load_component
    from retrikt_core.plugins import get_plugins

    return load_component(path, kind, get_plugins())


class LabelWork(ShardWork):
    """The teacher's distribution for each row (``{"text", "text_pair"}``),
    predicted ``batch_size`` rows at a time from the start of the shard.

    A worker loads the teacher saved at ``teacher_dir`` through the same
    ``from_pretrained`` path as every other reader; the local executor passes
    the teacher the stage already holds instead.
    """

    loaded = {"teacher": None}

    def __init__(self, teacher_dir: str, batch_size: int, teacher: Any | None = None) -> None:
        self.teacher_dir = str(teacher_dir)
        self.batch_size = batch_size
        self.teacher = teacher

    def setup(self) -> None:
        if self.teacher is None:
            self.teacher = _load(self.teacher_dir, "teacher")

    def __call__(self, rows: list[dict[str, Any]]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            examples = [Example(r["text"], r.get("text_pair")) for r in chunk]
            out += [[float(p) for p in row] for row in self.teacher.predict_proba(examples)]
        return out


class GenerateWork(ShardWork):
    """Samples for each row (``{"section", "label", "n", "seed"}``): one seeded
    chunk of a source's request, as a list of knowledge entries (dicts).

    A chunk's samples depend on its label, size and seed only, so chunks may
    be drawn in any order on any worker. Workers load each source from the
    folder an earlier stage saved it to (``source_dirs``, by config section);
    the local executor passes the sources the stage already holds.
    """

    loaded = {"sources": {}}

    def __init__(self, source_dirs: dict[str, str], sources: dict[str, Any] | None = None) -> None:
        self.source_dirs = {section: str(path) for section, path in source_dirs.items()}
        self.sources = dict(sources or {})

    def setup(self) -> None:
        for section, path in self.source_dirs.items():
            if section not in self.sources:
                self.sources[section] = _load(path, "generator")

    def __call__(self, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        return [
            [
                entry.to_dict()
                for entry in self.sources[row["section"]].generate(
                    row["label"], row["n"], seed=row["seed"]
                )
            ]
            for row in rows
        ]


def chunk_rows(section: str, label: int | None, n: int, seed: int, chunk: int) -> list[dict]:
    """A request of ``n`` samples cut into rows of at most ``chunk``; the
    first keeps the request's ``seed`` (a request of one chunk is drawn as
    it was whole), the others are offset past any other request's seed."""
    return [
        {"section": section, "label": label, "n": min(chunk, n - start), "seed": seed + i * 10007}
        for i, start in enumerate(range(0, n, chunk))
    ]


def entries_of(results: list[list[dict[str, Any]]]) -> list[Knowledge]:
    return [Knowledge.from_dict(row) for chunk in results for row in chunk]


class KeyWork(ShardWork):
    """The dense key of each row (``{"text", "text_pair"}``) as a store with
    these options computes it, as text (:func:`~retrikt_core.storekit.key_to_text`).

    A worker builds an empty store of the named plugin with the same options
    (its encoder loads there); the local executor passes the stage's store.
    """

    loaded = {"store": None}

    def __init__(self, plugin: str, options: Any, store: Any | None = None) -> None:
        self.plugin = plugin
        self.options = options
        self.store = store

    def setup(self) -> None:
        if self.store is None:
            from retrikt_core.plugins import get_plugins

            self.store = get_plugins().registry.get("store", self.plugin)(self.options)

    def __call__(self, rows: list[dict[str, Any]]) -> list[str]:
        from retrikt_core.storekit import key_to_text

        keys = self.store.encode([Example(r["text"], r.get("text_pair")) for r in rows])
        return [key_to_text(row) for row in keys]
