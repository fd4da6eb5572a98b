"""Predict with a finished run's student: labels, probabilities, and the
store entries that drove each decision. Loads only the student, the store and
the retriever (never the generator or the teacher)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrikt_core.datafiles import file_format, read_table, text_value
from retrikt_core.errors import ArtifactError, InputError, TaskDataError
from retrikt_core.pipeline import RunDir
from retrikt_core.plugins import Plugins, get_plugins
from retrikt_core.records import Example, Knowledge, Neighbors

PAIR_SEPARATOR = " ||| "
# Provenance key of entries added to a bundle's store after training.
ADDED_IN = "added_in"


@dataclass
class Prediction:
    label: str
    probabilities: dict[str, float]
    neighbors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": self.probabilities,
            "neighbors": self.neighbors,
        }


class RunPredictor:
    """The ``retrikt_student`` (or another student) of a run, ready to predict."""

    def __init__(
        self, run_dir: str | Path, method: str = "retrikt_student", plugins: Plugins | None = None
    ) -> None:
        run = RunDir(run_dir)
        self.run_dir = run.path
        self.plugins = plugins or get_plugins()
        student_dir = run.student_dir(method)
        for needed in (run.task_file, student_dir):
            if not needed.exists():
                raise ArtifactError(f"{needed}: missing; is {self.run_dir} a finished run?")
        # The student, its store and the retriever settings must belong together:
        # a rerun stopped half way would pair a new store with an old student.
        run.check_chain(["train"])
        run.check_config(["train"])
        run.verify("prepare")
        self.task = run.task_info()
        self.student = run.load("train", method, "student", self.plugins)
        self.retriever = None
        if method == "retrikt_student":
            stores = [run.load("index", s, "store", self.plugins) for s, _ in run.store_dirs()]
            config = run.config()["retriever"]
            name = config.pop("plugin")
            cls = self.plugins.registry.get("retriever", name)
            self.retriever = cls(cls.Options(**config))
            self.retriever.bind(stores)
            self.retriever = self.student.own_retriever() or self.retriever
            self.entries = {e.id: e for store in stores for e in store.entries()}

    def predict(self, examples: list[Example], top: int = 3) -> list[Prediction]:
        neighbors = self.retriever.retrieve(examples) if self.retriever else None
        probs = self.student.predict_proba(examples, neighbors)
        entries = self.entries if self.retriever else {}
        return explain(self.task["label_names"], probs, neighbors, entries, top)


def explain(
    names: list[str],
    probs: list[list[float]],
    neighbors: Neighbors | None,
    entries: Mapping[str, Knowledge],
    top: int,
) -> list[Prediction]:
    """Predictions from probabilities, each with its ``top`` neighbours (the
    store entry, its score and its teacher label) when there was retrieval."""
    out = []
    for i, row in enumerate(probs):
        best = max(range(len(row)), key=row.__getitem__)
        explained = []
        if neighbors is not None:
            for entry_id, score in list(zip(neighbors.ids[i], neighbors.scores[i], strict=True))[
                :top
            ]:
                entry = entries[entry_id]
                explained.append(
                    {
                        "id": entry_id,
                        "score": round(float(score), 4),
                        "text": entry.text,
                        "text_pair": entry.text_pair,
                        "teacher_label": names[entry.teacher_label],
                        "source": entry.source,
                    }
                )
                if ADDED_IN in entry.provenance:  # added to a bundle after training
                    explained[-1][ADDED_IN] = entry.provenance[ADDED_IN]
        out.append(
            Prediction(names[best], dict(zip(names, map(float, row), strict=True)), explained)
        )
    return out


def read_inputs(texts: list[str], file: Path | None, is_pair: bool) -> list[Example]:
    """Examples from command-line texts (``premise ||| hypothesis`` for pairs)
    or a file the tasks could read (JSONL, CSV, TSV, Parquet; fields ``text``
    and ``text_pair``)."""
    rows: list[dict[str, Any]] = []
    for text in texts:
        first, _, second = text.partition(PAIR_SEPARATOR.strip())
        rows.append({"text": first.strip(), "text_pair": second.strip() or None})
    if file is not None:
        # The reader the tasks use: a TSV keeps its quotes as text, a JSONL line
        # that is not JSON names its line, and so on.
        try:
            file_format(file)
        except TaskDataError:
            raise InputError(
                f"--file {file}: name it .jsonl, .csv, .tsv or .parquet (.gz, .bz2, .xz too)"
            ) from None
        try:
            rows += read_table(file).rows
        except TaskDataError as exc:
            raise InputError(f"--file {exc}") from None
    examples = []
    for i, row in enumerate(rows):
        if "text" not in row:
            raise InputError(f"input {i}: no 'text' field; fields are {', '.join(row)}")
        pair = row.get("text_pair")
        try:
            text = text_value(row["text"], f"input {i}", "text")
            pair = text_value(pair, f"input {i}", "text_pair") if pair not in (None, "") else None
        except TaskDataError as exc:
            raise InputError(str(exc)) from None
        if is_pair and not pair:
            raise InputError(
                f"input {i}: this task takes sentence pairs; give "
                f"'premise{PAIR_SEPARATOR}hypothesis' or a text_pair field"
            )
        if not is_pair and pair:
            # The student never saw a second sentence: one would change its
            # answer without a word (serve and store add refuse it too).
            raise InputError(
                f"input {i}: this task takes single sentences; give a text without "
                f"'{PAIR_SEPARATOR.strip()}' and no text_pair field"
            )
        examples.append(Example(text=text, text_pair=pair, id=f"input-{i}"))
    return examples
