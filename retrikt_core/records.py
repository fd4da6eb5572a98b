"""Plain record types passed between components.

They hold Python lists and floats (not arrays) so that they serialise to JSON
lines without a numeric library; components convert at their own boundary.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    return value


def _optional(value: Any, kind: type, name: str) -> Any:
    """``value`` when it is None or a ``kind`` (never a bool for an int)."""
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{name} must be {kind.__name__} or null, got {value!r}")


@dataclass(frozen=True)
class Example:
    """One task input: a sentence or a sentence pair, with a label index when known."""

    text: str
    text_pair: str | None = None
    label: int | None = None
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Example:
        """The example a JSON row holds; a field of the wrong type is a
        ``TypeError`` naming it (a null text must not become ``"None"``)."""
        return cls(
            text=_text(row["text"], "text"),
            text_pair=_optional(row.get("text_pair"), str, "text_pair"),
            label=_optional(row.get("label"), int, "label"),
            id=str(row.get("id", "")),
        )


@dataclass(frozen=True)
class Knowledge:
    """One knowledge-store entry.

    ``requested_label`` is the label the generator was asked for (None for an
    unlabelled corpus entry); ``teacher_probs`` is the teacher's distribution
    over the task's labels; ``provenance`` says where it came from
    (generator, step, seed, file, ...).
    """

    text: str
    text_pair: str | None = None
    requested_label: int | None = None
    teacher_probs: tuple[float, ...] = ()
    source: str = "generator"
    provenance: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def example(self) -> Example:
        """The entry as an unlabelled task input (what the student and teacher read)."""
        return Example(text=self.text, text_pair=self.text_pair, id=self.id)

    @property
    def teacher_label(self) -> int:
        """Arg-max of the teacher distribution (hard label)."""
        if not self.teacher_probs:
            raise ValueError(f"knowledge entry {self.id!r} has no teacher_probs")
        probs = self.teacher_probs
        return max(range(len(probs)), key=probs.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["teacher_probs"] = list(self.teacher_probs)
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Knowledge:
        """The entry a JSON row holds; a field of the wrong type is a
        ``TypeError`` naming it, and a distribution that holds anything but
        finite numbers a ``ValueError``."""
        probs = row.get("teacher_probs") or ()
        if not isinstance(probs, list | tuple):
            raise TypeError(f"teacher_probs must be a list of numbers, got {probs!r}")
        if not all(_is_number(p) and math.isfinite(p) for p in probs):
            raise ValueError(f"teacher_probs must hold finite numbers, got {list(probs)!r}")
        return cls(
            text=_text(row["text"], "text"),
            text_pair=_optional(row.get("text_pair"), str, "text_pair"),
            requested_label=_optional(row.get("requested_label"), int, "requested_label"),
            teacher_probs=tuple(float(p) for p in probs),
            source=_optional(row.get("source", "generator"), str, "source"),
            provenance=dict(_optional(row.get("provenance"), dict, "provenance") or {}),
            id=str(row.get("id", "")),
        )


@dataclass(frozen=True)
class Neighbors:
    """What a retriever returns for a batch of queries.

    All three fields are indexed ``[query][rank]``; ``label_probs[q][r]`` is the
    teacher distribution of the r-th neighbour of query q. Queries with fewer
    than k neighbours (small store, self-exclusion) have shorter rows.
    """

    ids: list[list[str]]
    scores: list[list[float]]
    label_probs: list[list[list[float]]]

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, i: int) -> Neighbors:
        return Neighbors([self.ids[i]], [self.scores[i]], [self.label_probs[i]])


def dump_jsonl(records: list[Any]) -> str:
    """Serialise records with ``to_dict`` (or plain dicts) as JSON lines; read
    them back with :func:`jsonl_lines`."""
    lines = []
    for record in records:
        row = record.to_dict() if hasattr(record, "to_dict") else record
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def jsonl_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of JSON-lines ``text`` with their line numbers.

    Only "\\n" ends a line: :func:`dump_jsonl` keeps non-ASCII text as it is,
    and generated text may hold U+2028, U+0085 or a form feed, at which
    ``str.splitlines()`` would cut a record in two."""
    return [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
