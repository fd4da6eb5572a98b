"""In-test components, installed through a real ``retrikt`` entry point by
the ``testkit_site`` fixture of tests/conftest.py (a dist-info on sys.path),
never imported directly.

``template`` is a conditional generator that writes label-specific sentences
from word lists, so a run needs no model; it can sleep inside ``generate`` so
that a test can kill the process mid-stage. ``template-chunked`` is the same,
drawn in seeded chunks on the run's executor. The lifecycle hooks append one
line per event to the file named by ``RETRIKT_TEST_LOG``.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrikt_core.api import Knowledge, KnowledgeGenerator, hookimpl

WORDS = {
    0: ["awful", "dull", "boring", "bad", "tedious", "weak", "messy", "flat"],
    1: ["great", "fun", "moving", "good", "sharp", "lovely", "bright", "warm"],
    2: ["odd", "plain", "middling", "fine", "usual", "so-so", "mixed", "average"],
}
NOUNS = ["film", "story", "cast", "script", "ending", "score", "plot", "pace"]


@dataclass
class TemplateOptions:
    sleep_in_generate: float = field(default=0.0)
    marker: str = field(default="")


class TemplateGenerator(KnowledgeGenerator):
    """Writes 'the NOUN was ADJ and ADJ' with adjectives of the requested label."""

    name = "template"
    Options = TemplateOptions

    def fit(self, task, examples, *, seed):
        self.num_labels = task.num_labels
        return {"examples": len(examples)}

    def generate(self, label, n, *, seed):
        if self.options.marker:
            Path(self.options.marker).write_text("generating")
        if self.options.sleep_in_generate:
            time.sleep(self.options.sleep_in_generate)
        rng = random.Random(seed)
        out = []
        for i in range(n):
            a, b = rng.sample(WORDS[label], 2)
            text = f"the {rng.choice(NOUNS)} was {a} and {b} {i}"
            out.append(
                Knowledge(
                    text=text,
                    requested_label=label,
                    provenance={"generator": self.name, "seed": seed},
                )
            )
        return out

    def save_state(self, path):
        (path / "state.json").write_text(json.dumps({"num_labels": self.num_labels}))

    def load_state(self, path):
        self.num_labels = json.loads((path / "state.json").read_text())["num_labels"]


class ChunkedTemplateGenerator(TemplateGenerator):
    """The template generator, declared safe to draw in seeded chunks."""

    name = "template-chunked"
    seeded_chunks = True


def _log(event: str, stage: str) -> None:
    path = os.environ.get("RETRIKT_TEST_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {stage}\n")


@hookimpl
def register_generators(register):
    register(TemplateGenerator)
    register(ChunkedTemplateGenerator)


@hookimpl
def stage_started(stage, run_dir, config):
    _log("started", stage)


@hookimpl
def stage_finished(stage, run_dir, record):
    _log("finished", stage)
