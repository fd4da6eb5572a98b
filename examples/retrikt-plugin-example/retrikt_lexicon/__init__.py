"""A minimal third-party retrikt plugin: a teacher that labels text by counting
label words from a lexicon given in the run config.

    [teacher]
    plugin = "lexicon"
    words = { negative = ["bad", "dull"], positive = ["good", "fun"] }
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from retrikt_core.api import ConfigError, Example, Task, Teacher, hookimpl, option


@dataclass
class LexiconOptions:
    words: dict[str, list[str]] = option({}, "label name -> words that signal it")
    sharpness: float = option(1.0, "softmax scale on word counts (> 0)")

    def __post_init__(self) -> None:
        # Runs when the config is validated, before any stage starts.
        if self.sharpness <= 0:
            raise ConfigError(f"teacher.sharpness: must be > 0, got {self.sharpness}")


class LexiconTeacher(Teacher):
    """Counts each label's words in the text; softmax over the counts."""

    name = "lexicon"
    Options = LexiconOptions

    def __init__(self, options: LexiconOptions | None = None) -> None:
        super().__init__(options)
        self.label_names: list[str] = []

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict:
        # Checks that need the task run here, in the `teacher` stage.
        unknown = set(self.options.words) - set(task.label_names)
        if unknown:
            raise ConfigError(
                f"teacher.words: unknown label {sorted(unknown)[0]!r}; "
                f"labels: {', '.join(task.label_names)}"
            )
        self.label_names = list(task.label_names)
        return {"words": sum(len(w) for w in self.options.words.values())}

    def predict_proba(self, examples: list[Example]) -> list[list[float]]:
        out = []
        for example in examples:
            tokens = re.findall(r"[a-z']+", f"{example.text} {example.text_pair or ''}".lower())
            scores = [
                self.options.sharpness
                * sum(tokens.count(w) for w in self.options.words.get(label, []))
                for label in self.label_names
            ]
            top = max(scores)
            exp = [math.exp(s - top) for s in scores]
            out.append([e / sum(exp) for e in exp])
        return out

    def num_parameters(self) -> int:
        return 0  # a word list has no trained parameters

    def save_state(self, path: Path) -> None:
        (path / "labels.txt").write_text("\n".join(self.label_names))

    def load_state(self, path: Path) -> None:
        self.label_names = (path / "labels.txt").read_text().splitlines()


@hookimpl
def register_teachers(register):
    register(LexiconTeacher)
