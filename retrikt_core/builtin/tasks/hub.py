"""The ``hub`` task: a dataset from the Hugging Face hub (needs a network)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrikt_core.api import (
    ConfigError,
    Example,
    Task,
    TaskDataError,
    option,
    rows_to_examples,
)
from retrikt_core.builtin.tasks.files import check_label_words, describe_from_options


@dataclass
class HubTaskOptions:
    dataset: str = option("", "dataset name on the Hugging Face hub, e.g. 'glue'")
    subset: str = option("", "dataset config, e.g. 'sst2'")
    train_split: str = option("train", "split to sample k-shot examples from")
    eval_split: str = option("validation", "split to evaluate on")
    text_field: str = option("sentence", "field holding the text")
    text_pair_field: str = option("", "second text of a pair; empty = single")
    label_field: str = option("label", "field holding the label (class index)")
    label_names: list[str] = option([], "label names, in label-index order")
    verbalizers: list[str] = option([], "one word per label; default: names")
    description: str = option("", "what the task is, in a few words")
    k_shot: int = option(16, "labelled examples sampled per label", minimum=1)
    max_eval: int = option(0, "evaluate on at most this many (0 = all)", minimum=0)


class HubTask(Task):
    """A dataset from the Hugging Face hub through ``datasets`` (needs a network)."""

    name = "hub"
    Options = HubTaskOptions

    def __init__(self, options: HubTaskOptions | None = None) -> None:
        super().__init__(options)
        describe_from_options(self)

    def check(self) -> None:
        if not self.options.dataset:
            raise ConfigError("task.dataset: required; a dataset name on the hub")
        check_label_words(self.options)

    def load(self, split: str) -> list[Example]:
        try:
            import datasets
        except ImportError:
            raise ConfigError(
                "task.plugin: the hub task needs the datasets package (pip install datasets)"
            ) from None
        o = self.options
        try:
            dataset = datasets.load_dataset(o.dataset, o.subset or None, split=split)
        except (OSError, ValueError) as exc:  # no network, no such dataset or split
            name = f"{o.dataset}/{o.subset}" if o.subset else o.dataset
            raise TaskDataError(
                f"task.dataset: cannot load {name!r} split {split!r} from the Hugging Face "
                f"Hub ({type(exc).__name__}: {exc}); without a network, give the files to "
                "the files task instead"
            ) from None
        return rows_to_examples(
            dataset.to_list(),
            where=f"{o.dataset}/{o.subset}:{split}",
            text_field=o.text_field,
            text_pair_field=o.text_pair_field,
            label_field=o.label_field,
            label_values=list(range(len(o.label_names))),
            split=split,
        )

    def fingerprint(self) -> dict[str, Any]:
        return {"dataset": self.options.dataset, "subset": self.options.subset}
