"""What a stage is: its name, the config sections and upstream stages its key
covers, and the function that does its work with a :class:`StageContext`."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrikt_core.config import section_kind, stable_hash
from retrikt_core.interfaces import Component, Task
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.records import Example, Knowledge

if TYPE_CHECKING:
    from retrikt_core.pipeline.runner import Pipeline

# The students ``train`` fits and ``evaluate`` compares, in that order.
STUDENT_METHODS = ("kshot_student", "kd_student", "retrikt_student", "setfit_baseline")
# The config sections that are knowledge sources, ``generator`` first.
SOURCE_SECTIONS = ("generator", "second_source")


@dataclass(frozen=True)
class Stage:
    name: str
    sections: tuple[str, ...]
    needs: tuple[str, ...]
    run: Callable[[StageContext], dict[str, Any]]
    description: str
    # Key inputs that are not whole config sections (data files, chosen methods).
    extra: Callable[[Pipeline], Any] | None = None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and (if already imported) torch, for CPU determinism."""
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


class StageContext:
    """What a stage function gets: the config, the plugins, where to write, and
    how to read what earlier stages wrote."""

    def __init__(self, pipeline: Pipeline, stage: Stage, out: Path) -> None:
        self.pipeline = pipeline
        self.stage = stage
        self.out = out
        self.config = pipeline.config
        self.seed = int(stable_hash([pipeline.config.run.seed, stage.name]), 16) % 2**31

    def build(self, section: str) -> Component:
        """A fresh component for a config section, with its validated options."""
        name, options = self.config.components[section]
        return self.pipeline.plugins.registry.get(section_kind(section), name)(options)

    def task(self) -> Task:
        return self.pipeline.task

    @property
    def rundir(self) -> RunDir:
        return self.pipeline.rundir

    def stage_dir(self, stage: str) -> Path:
        return self.rundir.stage(stage)

    def load(self, stage: str, subdir: str, kind: str) -> Component:
        """A component that an earlier stage saved with ``save_pretrained``."""
        return self.rundir.load(stage, subdir, kind, self.pipeline.plugins)

    def read_examples(self, stage: str, name: str) -> list[Example]:
        return self.rundir.read_examples(stage, name)

    def read_knowledge(self) -> list[Knowledge]:
        return self.rundir.read_knowledge()
