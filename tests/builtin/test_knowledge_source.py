"""The ``knowledge`` source: a store mixed from finished runs' knowledge keeps
each entry's source and, when the teacher is the same, its label; labelling
goes shortest first but returns labels in entry order."""

from __future__ import annotations

import json

import pytest

from retrikt_core.builtin.local_executor import LocalExecutor, LocalOptions
from retrikt_core.config import ConfigError
from retrikt_core.pipeline import LABELLED_BY, teacher_labels
from retrikt_core.records import Knowledge
from retrikt_core.testing.runs import make_pipeline, write_config, write_sentiment_files

CORPUS = [f"a plain and honest little story number {i}" for i in range(50)]


def entries(run_dir):
    lines = (run_dir / "stages" / "extract" / "knowledge.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def extract_counts(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())["stages"]["extract"]["counts"]


def source_config(tmp_path, name, data, generator, extract, extra=""):
    """A small run's config with its generator section and extract sizes replaced."""
    run_dir = tmp_path / name
    config = write_config(tmp_path / f"{name}.toml", data, run_dir)
    config.write_text(
        config.read_text()
        .replace('plugin = "template"', generator)
        .replace("n_per_label = 40", extract)
        + extra
    )
    return config, run_dir


@pytest.fixture
def two_runs(tmp_path, testkit_site):
    """A generated-knowledge run and a transfer-set run on the same data and teacher."""
    data = write_sentiment_files(tmp_path / "data")
    (tmp_path / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    generated = tmp_path / "generated"
    make_pipeline(write_config(tmp_path / "gen.toml", data, generated), generated).run()
    corpus = f'plugin = "corpus"\npath = "{tmp_path / "corpus.txt"}"'
    config, transfer = source_config(tmp_path, "transfer", data, corpus, "n_total = 50")
    make_pipeline(config, transfer).run()
    return data, generated, transfer


def mixed_config(tmp_path, data, generated, transfer, teacher_epochs=60):
    config, run_dir = source_config(
        tmp_path,
        "mixed",
        data,
        f'plugin = "knowledge"\npath = "{generated}"',
        "n_total = 40\nsecond_source_share = 0.5",
        f'\n[second_source]\nplugin = "knowledge"\npath = "{transfer}"\n',
    )
    config.write_text(config.read_text().replace("epochs = 60", f"epochs = {teacher_epochs}", 1))
    return config, run_dir


def test_a_store_mixed_from_two_runs_keeps_sources_and_labels(tmp_path, two_runs):
    data, generated, transfer = two_runs
    config, run_dir = mixed_config(tmp_path, data, generated, transfer)
    metrics = make_pipeline(config, run_dir).run()
    mixed = entries(run_dir)
    assert len(mixed) == 40
    assert {e["source"] for e in mixed} == {"generator", "corpus"}
    assert sum(e["source"] == "corpus" for e in mixed) == 20
    # The same teacher config and seed retrain byte-identical teachers, so no
    # entry is labelled again: each keeps the distribution it had.
    assert extract_counts(run_dir)["labels_reused"] == 40
    originals = {
        (e["text"], e["source"]): e["teacher_probs"] for e in entries(generated) + entries(transfer)
    }
    for entry in mixed:
        assert entry["teacher_probs"] == originals[(entry["text"], entry["source"])]
        assert entry["provenance"]["taken_from"].startswith(str(tmp_path))
    assert set(metrics["methods"]["retrikt_student"]["by_source"]) == {"generator", "corpus"}


def test_another_teacher_labels_the_entries_again(tmp_path, two_runs):
    data, generated, transfer = two_runs
    config, run_dir = mixed_config(tmp_path, data, generated, transfer, teacher_epochs=3)
    make_pipeline(config, run_dir).run()
    assert "labels_reused" not in extract_counts(run_dir)
    digests = {e["provenance"][LABELLED_BY] for e in entries(run_dir)}
    assert digests.isdisjoint({e["provenance"][LABELLED_BY] for e in entries(generated)})
    originals = {e["text"]: e["teacher_probs"] for e in entries(generated) + entries(transfer)}
    changed = [e for e in entries(run_dir) if e["teacher_probs"] != originals[e["text"]]]
    assert len(changed) == 40, "a teacher trained for 3 epochs scores every entry differently"


def test_a_changed_source_file_refits_the_source(tmp_path, two_runs):
    data, generated, transfer = two_runs
    config, run_dir = mixed_config(tmp_path, data, generated, transfer)
    make_pipeline(config, run_dir).run()
    before = len(entries(generated))
    knowledge = generated / "stages" / "extract" / "knowledge.jsonl"
    knowledge.write_text("\n".join(knowledge.read_text().splitlines()[1:]) + "\n")
    make_pipeline(config, run_dir).run()
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert stages["tune"]["counts"]["pool"] == before - 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", r"second_source\.path: no knowledge file at .*nowhere"),
        ("empty", r"second_source\.path: knowledge file .*empty\.jsonl holds no entries"),
        ("broken", r"second_source\.path: .*broken\.jsonl line 1 is not a knowledge entry"),
        ("pairs", r"second_source\.path: task 'files' reads single texts, but 1 of the 1"),
        ("small", r"second_source\.path: .*small\.jsonl holds 1 entries; extract asks for 40"),
        ("labels", r"second_source\.path: .*labels\.jsonl line 1 is not knowledge of a 2-label"),
        ("null", r"second_source\.path: .*null\.jsonl line 1 .*text must be a string, got None"),
        ("nan", r"second_source\.path: .*nan\.jsonl line 1 .*teacher_probs must hold finite"),
    ],
)
def test_bad_knowledge_is_refused_before_any_stage(small_run, tmp_path, setup, message):
    config, run_dir, _ = small_run
    one = Knowledge(text="a fine film", teacher_probs=(0.2, 0.8)).to_dict()
    path = tmp_path / f"{setup}.jsonl"
    if setup == "missing":
        path = tmp_path / "nowhere"
    elif setup == "empty":
        path.write_text("\n")
    elif setup == "broken":
        path.write_text("{not json\n")
    elif setup == "labels":
        path.write_text(json.dumps({**one, "teacher_probs": [0.2, 0.3, 0.5]}) + "\n")
    elif setup == "null":
        path.write_text(json.dumps({**one, "text": None}) + "\n")
    elif setup == "nan":
        path.write_text(json.dumps({**one, "teacher_probs": [float("nan"), 0.5]}) + "\n")
    elif setup == "pairs":
        path.write_text(json.dumps({**one, "text_pair": "and another"}) + "\n")
    else:
        path.write_text(json.dumps(one) + "\n")
    config.write_text(
        config.read_text() + f'\n[second_source]\nplugin = "knowledge"\npath = "{path}"\n'
    )
    with pytest.raises(ConfigError, match=message):
        make_pipeline(config, run_dir).run()
    assert not (run_dir / "stages" / "prepare").exists(), "refused before any stage ran"


@pytest.mark.parametrize("plugin", ["knowledge", "corpus"])
def test_a_source_asked_for_nothing_is_still_checked(small_run, tmp_path, plugin):
    config, run_dir, _ = small_run
    missing = tmp_path / "nowhere.jsonl"
    config.write_text(
        config.read_text().replace("n_per_label = 40", "n_per_label = 40\nsecond_source_share = 0")
        + f'\n[second_source]\nplugin = "{plugin}"\npath = "{missing}"\n'
    )
    with pytest.raises(ConfigError, match=r"second_source\.path: .*nowhere\.jsonl"):
        make_pipeline(config, run_dir).run()
    assert not (run_dir / "stages" / "prepare").exists(), "refused before any stage ran"


class LengthTeacher:
    """Scores an entry by its word count, and records each batch it is given."""

    def __init__(self):
        self.batches = []

    def predict_proba(self, examples):
        self.batches.append([len(e.text.split()) for e in examples])
        return [[1 / len(e.text.split()), 1 - 1 / len(e.text.split())] for e in examples]


def test_labels_come_back_in_entry_order_from_length_sorted_batches(tmp_path):
    lengths = [7, 1, 5, 2, 6, 3, 4]
    knowledge = [Knowledge(text=" ".join(["w"] * n)) for n in lengths]
    kept = Knowledge(text="w w", teacher_probs=(0.9, 0.1), provenance={LABELLED_BY: "same"})
    stale = Knowledge(text="w w w", teacher_probs=(0.9, 0.1), provenance={LABELLED_BY: "old"})
    teacher = LengthTeacher()
    entries = knowledge + [kept, stale]
    # Shards of 4 rows are rounded up to whole batches (6): batches stay the same.
    executor = LocalExecutor(LocalOptions(batch_size=4))
    probs = teacher_labels(
        teacher, entries, "same", batch_size=3, executor=executor, shards_dir=tmp_path
    )
    assert probs[: len(lengths)] == [(1 / n, 1 - 1 / n) for n in lengths]
    assert probs[-2] == (0.9, 0.1), "labels from this teacher are kept"
    assert probs[-1] == (1 / 3, 1 - 1 / 3), "labels from another teacher are redone"
    assert teacher.batches == [[1, 2, 3], [3, 4, 5], [6, 7]]
