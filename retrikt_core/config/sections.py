"""The core config sections (``run``, ``extract``, ``evaluate``, ``reward``)
and the component sections a config may have."""

from __future__ import annotations

from dataclasses import dataclass

from retrikt_core.config.options import option
from retrikt_core.errors import OptionError


@dataclass
class RunOptions:
    """``[run]``: where the run lives and its seed."""

    seed: int = option(0, "seed for k-shot sampling, training and generation", minimum=0)
    run_dir: str = option("runs/default", "where the run writes (CLI --run-dir overrides)")


@dataclass
class ExtractOptions:
    """``[extract]``: how much knowledge to gather and what to drop."""

    n_per_label: int = option(200, "entries asked of a conditional generator per label", minimum=0)
    n_total: int = option(
        0,
        "entries asked of an unconditional source (corpus); 0 = n_per_label x labels",
        minimum=0,
    )
    second_source_share: float = option(
        0.5,
        "with a [second_source]: its share of the entries asked for (n_total, or "
        "n_per_label x labels); the rest come from [generator]",
        minimum=0.0,
        maximum=1.0,
    )
    drop_duplicates: bool = option(True, "drop entries whose normalised text repeats")
    drop_eval_overlap: bool = option(True, "drop entries that repeat an eval example")
    eval_near_duplicate: float = option(
        0.8,
        "also drop entries whose word-set Jaccard, or word-trigram containment, with an "
        "eval text reaches this; 0 = exact repeats only",
        minimum=0.0,
        maximum=1.0,
    )
    min_words: int = option(
        3, "drop entries with fewer words (degenerate, as in the reward)", minimum=0
    )
    max_words: int = option(128, "drop entries with more words", minimum=1)
    teacher_batch_size: int = option(32, "batch size when the teacher labels entries", minimum=1)
    generation_chunk: int = option(
        256,
        "samples per seeded chunk when an LLM generator's requests are cut up for the "
        "executor (chunks are drawn in parallel; the knowledge depends on this, not on "
        "the executor)",
        minimum=1,
    )

    def __post_init__(self) -> None:
        if self.max_words < self.min_words:
            raise OptionError(
                "max_words", f"must be >= min_words ({self.min_words}), got {self.max_words}"
            )


@dataclass
class EvaluateOptions:
    """``[evaluate]``: which methods to compare and how to time them."""

    methods: list[str] = option(
        ["teacher", "kshot_student", "kd_student", "retrikt_student"], "methods to compare"
    )
    batch_size: int = option(32, "batch size for timing and prediction", minimum=1)


@dataclass
class RewardOptions:
    """``[reward]``: the terms of the RL reward and their weights."""

    weights: dict[str, float] = option(
        {"quality": 1.0, "diversity": 0.5, "degenerate": 1.0}, "reward term -> weight"
    )
    memory: int = option(
        256, "recently scored samples the diversity term compares against", minimum=0
    )


CORE_SECTIONS: dict[str, type] = {
    "run": RunOptions,
    "extract": ExtractOptions,
    "evaluate": EvaluateOptions,
    "reward": RewardOptions,
}
COMPONENT_SECTIONS: tuple[str, ...] = (
    "task",
    "generator",
    "teacher",
    "optimizer",
    "store",
    "retriever",
    "student",
)
# Optional component sections, and the component kind each one holds.
OPTIONAL_SECTIONS: dict[str, str] = {
    # A second store over the same knowledge (say bm25 beside faiss), for
    # retrievers that fuse two rankings such as ``hybrid``.
    "second_store": "store",
    # A second knowledge source mixed into the same store (say a corpus of
    # real unlabelled text beside the LLM's generations).
    "second_source": "generator",
    # What runs the heavy sharded work (teacher labelling); absent = "local".
    # How a run computes, not what: no stage key includes it, so a run may
    # switch executors and resume.
    "executor": "executor",
    # The student of the ``setfit_baseline`` method: what a user would train
    # on the k-shot split instead (SetFit); absent = "setfit" with its defaults.
    "baseline": "student",
}

# Sections whose ``plugin`` may be left out.
DEFAULT_PLUGINS: dict[str, str] = {"executor": "local", "baseline": "setfit"}


def section_kind(section: str) -> str:
    """The component kind a section holds (``second_store`` holds a store)."""
    return OPTIONAL_SECTIONS.get(section, section)


METHODS = ("teacher", "kshot_student", "kd_student", "retrikt_student", "setfit_baseline")
# The method trained by the ``[baseline]`` student (present whenever the method is asked).
BASELINE_METHOD = "setfit_baseline"
