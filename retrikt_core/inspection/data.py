"""What a task reads from its files, before any model loads: rows per split
and per label, the first rows as parsed, how each file was read (format,
header row or not, and why) and the lines skipped. ``retrikt data check``
prints it."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from retrikt_core.interfaces import Task


@dataclass
class SplitReport:
    split: str
    rows: int
    by_label: dict[str, int]
    unlabelled: int
    first: list[dict[str, Any]]
    read: dict[str, Any] | None = None  # what the task's reader decided
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_task_data(task: Task, first: int = 3) -> list[SplitReport]:
    """Read the task's train and eval splits and describe them. Unreadable
    data raises the task's error (a :class:`~retrikt_core.errors.TaskDataError`
    or :class:`~retrikt_core.errors.ConfigError` naming the file and row)."""
    check = getattr(task, "check", None)
    if check is not None:
        check()
    reports = []
    for split in dict.fromkeys((task.train_split, task.eval_split)):
        examples = task.load(split)
        labels = Counter(task.label_names[e.label] for e in examples if e.label is not None)
        report = SplitReport(
            split=split,
            rows=len(examples),
            by_label={name: labels.get(name, 0) for name in task.label_names},
            unlabelled=sum(e.label is None for e in examples),
            first=[
                {
                    "text": e.text,
                    "text_pair": e.text_pair,
                    "label": None if e.label is None else task.label_names[e.label],
                }
                for e in examples[:first]
            ],
            read=task.data_report(split),
        )
        if split == task.train_split:
            k = task.k_shot
            report.problems += [
                f"label {name!r} has {n} examples, fewer than k_shot = {k}"
                for name, n in report.by_label.items()
                if n < k
            ]
        elif report.unlabelled:
            report.problems.append(f"{report.unlabelled} rows have no label (evaluation needs one)")
        reports.append(report)
    return reports
