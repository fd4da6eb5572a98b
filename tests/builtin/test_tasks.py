"""Tasks: local files through `datasets`, field mapping, k-shot sampling, presets."""

from __future__ import annotations

import json

import pytest

from retrikt_core.builtin.tasks import CBTask, FilesTask, FilesTaskOptions, RTETask, SST2Task
from retrikt_core.config import ConfigError
from retrikt_core.errors import TaskDataError
from retrikt_core.testing.runs import shared_data_or_skip, write_sentiment_files


def files_task(tmp_path, **overrides) -> FilesTask:
    data = write_sentiment_files(tmp_path / "data")
    options = dict(
        train_file=str(data["train"]),
        eval_file=str(data["eval"]),
        label_names=["negative", "positive"],
    )
    options.update(overrides)
    return FilesTask(FilesTaskOptions(**options))


def test_csv_task_loads_labels_by_index(tmp_path):
    task = files_task(tmp_path)
    train = task.load("train")
    assert len(train) == 60
    assert train[0].label == 0 and train[1].label == 1
    assert train[0].id == "train-0" and train[0].text_pair is None


def test_k_shot_is_seeded_and_balanced(tmp_path):
    task = files_task(tmp_path)
    train = task.load("train")
    a = task.sample_k_shot(train, 5, seed=1)
    b = task.sample_k_shot(train, 5, seed=1)
    c = task.sample_k_shot(train, 5, seed=2)
    assert a == b and a != c
    assert sorted(e.label for e in a) == [0] * 5 + [1] * 5


def test_k_shot_larger_than_a_class_is_an_error(tmp_path):
    task = files_task(tmp_path)
    with pytest.raises(ValueError, match="fewer than k_shot=40"):
        task.sample_k_shot(task.load("train"), 40, seed=0)


def test_jsonl_pair_task_with_string_labels(tmp_path):
    rows = [
        {"p": f"premise {i}", "h": f"hypothesis {i}", "y": ["yes", "no"][i % 2]} for i in range(6)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    task = FilesTask(
        FilesTaskOptions(
            train_file=str(path),
            eval_file=str(path),
            label_names=["entailment", "not_entailment"],
            label_values=["yes", "no"],
            text_field="p",
            text_pair_field="h",
            label_field="y",
        )
    )
    examples = task.load("train")
    assert task.is_pair and task.field_names == ("p", "h")
    assert examples[1].text_pair == "hypothesis 1" and examples[1].label == 1


def test_tsv_keeps_quotes_and_null_words(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text('sentence\tlabel\nsaid "no" to it\t0\nnull\t1\n')
    task = FilesTask(
        FilesTaskOptions(
            train_file=str(path), eval_file=str(path), label_names=["a", "b"], text_field="sentence"
        )
    )
    assert [e.text for e in task.load("train")] == ['said "no" to it', "null"]


def test_missing_field_names_file_and_field(tmp_path):
    task = files_task(tmp_path, text_field="sentence")
    with pytest.raises(
        TaskDataError, match=r"train\.csv: no field 'sentence'; fields are text, label"
    ):
        task.load("train")


def test_unexpected_label_value_names_row(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": "maybe"}\n')
    task = FilesTask(
        FilesTaskOptions(train_file=str(path), eval_file=str(path), label_names=["yes", "no"])
    )
    with pytest.raises(TaskDataError, match=r"row 0: field 'label' has value 'maybe'"):
        task.load("train")


def test_check_reports_missing_files_and_labels(tmp_path):
    with pytest.raises(ConfigError, match=r"task\.train_file: required"):
        FilesTask(FilesTaskOptions(label_names=["a", "b"])).check()
    with pytest.raises(ConfigError, match="at least two label names"):
        files_task(tmp_path, label_names=["only"]).check()


def test_one_file_for_both_splits_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a", "label": "yes"}\n{"text": "b", "label": "no"}\n')
    monkeypatch.chdir(tmp_path)
    # One file named two ways (relative and absolute) is still one file.
    task = FilesTask(
        FilesTaskOptions(train_file="rows.jsonl", eval_file=str(path), label_names=["yes", "no"])
    )
    with pytest.raises(ConfigError, match=r"task\.eval_file: the same file as task\.train_file"):
        task.check()
    other = tmp_path / "dev.jsonl"
    other.write_bytes(path.read_bytes())
    FilesTask(
        FilesTaskOptions(train_file=str(path), eval_file=str(other), label_names=["yes", "no"])
    ).check()


def test_preset_without_data_dir_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("RETRIKT_DATA_DIR", raising=False)
    with pytest.raises(ConfigError, match=r"task\.data_dir: .*--data-dir.*RETRIKT_DATA_DIR"):
        SST2Task().check()


@pytest.mark.parametrize(
    ("cls", "folder", "sizes", "pair"),
    [
        (SST2Task, "sst2", (67349, 872), False),
        (RTETask, "rte", (2490, 277), True),
        (CBTask, "cb", (250, 56), True),
    ],
)
def test_presets_read_shared_data(cls, folder, sizes, pair, monkeypatch):
    data_dir = shared_data_or_skip(folder)
    monkeypatch.setenv("RETRIKT_DATA_DIR", str(data_dir))
    task = cls()
    task.check()
    train, evaluation = task.load(task.train_split), task.load(task.eval_split)
    assert (len(train), len(evaluation)) == sizes
    assert task.is_pair == pair
    assert all(e.label is not None for e in evaluation)
    assert {e.label for e in train} == set(range(task.num_labels))
    kshot = task.sample_k_shot(train, 16, seed=0)
    assert len(kshot) == 16 * task.num_labels


def test_the_hub_task_offline_is_an_error_naming_the_dataset(monkeypatch):
    import sys
    import types

    from retrikt_core.builtin.tasks.hub import HubTask, HubTaskOptions

    def load_dataset(name, subset, split):
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    task = HubTask(HubTaskOptions(dataset="glue", subset="sst2", label_names=["neg", "pos"]))
    with pytest.raises(
        TaskDataError, match=r"task\.dataset: cannot load 'glue/sst2' split 'train'"
    ):
        task.load("train")


@pytest.mark.parametrize(
    ("verbalizers", "message"),
    [(["bad"], "need one word per label name"), (["bad", "bad"], "one distinct word per label")],
)
def test_the_hub_task_checks_its_verbalizers(verbalizers, message):
    from retrikt_core.builtin.tasks.hub import HubTask, HubTaskOptions

    task = HubTask(
        HubTaskOptions(dataset="glue", label_names=["neg", "pos"], verbalizers=verbalizers)
    )
    with pytest.raises(ConfigError, match=rf"task\.verbalizers: {message}"):
        task.check()
