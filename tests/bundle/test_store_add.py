"""`retrikt store add`: labelled knowledge added to a bundle's store after
training keeps the earlier entries byte for byte, changes predictions only
through the new entries, marks them in predictions, and is refused for a
damaged bundle or knowledge the bundle cannot take."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from retrikt_core.bundle import BundleError, ExportOptions, export_bundle, load_bundle
from retrikt_core.bundle.additions import add_to_bundle, label_with_teacher, read_labelled
from retrikt_core.bundle.load import read_manifest
from retrikt_core.cli import app
from retrikt_core.errors import InputError
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.plugins import get_plugins
from retrikt_core.records import Example
from retrikt_core.storekit import keys_from_nonzero
from retrikt_core.testing.runs import make_pipeline

runner = CliRunner()
NEW = [
    {"text": "a zebra quantum harmonica was wonderful", "teacher_probs": [0.1, 0.9]},
    {"text": "a zebra quantum harmonica was dreadful", "teacher_probs": [0.8, 0.2]},
    {"text": "the glacier soup tasted of triumph", "teacher_probs": [0.3, 0.7]},
]


@pytest.fixture
def bundle(small_run, tmp_path):
    config, run_dir, _ = small_run
    make_pipeline(config, run_dir).run()
    export_bundle(run_dir, tmp_path / "bundle")
    return tmp_path / "bundle"


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def saved_keys(store):
    """The dense keys a memory store saved in ``store``."""
    manifest = json.loads((store / "store.json").read_text())
    shape = (manifest["count"], manifest["dim"])
    return keys_from_nonzero(np.load(store / "keys.npy"), shape, "keys.npy")


def eval_examples(small_run):
    _, run_dir, _ = small_run
    lines = (run_dir / "stages/prepare/eval.jsonl").read_text().splitlines()
    return [Example.from_dict(json.loads(line)) for line in lines if line]


def test_earlier_entries_keep_their_bytes_and_the_bundle_its_checks(bundle, tmp_path):
    store = bundle / "stores" / "store"
    entries_before = (store / "entries.jsonl").read_bytes()
    keys_before = saved_keys(store)
    done = add_to_bundle(bundle, read_labelled(write_rows(tmp_path / "new.jsonl", NEW), 2))
    assert (done.added, done.skipped, done.store_version) == (3, 0, 2)
    manifest = read_manifest(bundle)  # every file matches the new checksums
    assert manifest.store_version == 2 and manifest.stores[0]["entries"] == len(keys_before) + 3
    assert (store / "entries.jsonl").read_bytes().startswith(entries_before)
    keys_after = saved_keys(store)
    assert np.array_equal(keys_after[: len(keys_before)], keys_before)
    added = [json.loads(line) for line in (store / "entries.jsonl").read_text().splitlines()][-3:]
    assert [row["provenance"]["added_in"] for row in added] == [2, 2, 2]
    assert not list(tmp_path.glob("bundle.*")), "no partial or replaced copy is left"
    card = (bundle / "README.md").read_text()
    assert "store version 2: 3 entries added by `retrikt store add`" in card


def test_predictions_change_only_through_the_new_entries(bundle, small_run, tmp_path):
    examples = eval_examples(small_run)
    before = load_bundle(bundle).predict_proba(examples)
    add_to_bundle(bundle, read_labelled(write_rows(tmp_path / "new.jsonl", NEW), 2))
    after_bundle = load_bundle(bundle)
    after = after_bundle.predict_proba(examples)
    neighbors = after_bundle.retriever.retrieve(examples)
    untouched = [
        i for i, ids in enumerate(neighbors.ids) if not any(x.startswith("add2-") for x in ids)
    ]
    assert untouched, "most eval examples have no new neighbour"
    for i in untouched:
        assert after[i] == before[i]
    query = [Example(NEW[0]["text"])]
    shown = after_bundle.predict(query, top=1)[0].neighbors[0]
    assert shown["text"] == NEW[0]["text"] and shown["added_in"] == 2


def test_the_cli_adds_a_finished_runs_knowledge_and_predict_marks_new_entries(
    bundle, small_run, tmp_path
):
    config, run_dir, _ = small_run
    other = tmp_path / "other"
    make_pipeline(config, other, ["run.seed=1"]).run()
    rows = (other / "stages/extract/knowledge.jsonl").read_text().splitlines()
    entries_before = read_manifest(bundle).stores[0]["entries"]
    result = runner.invoke(app, ["store", "add", str(bundle), str(other)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    match = re.search(r"(\d+) entries added(?:, (\d+) skipped)?", said)
    added, skipped = int(match[1]), int(match[2] or 0)
    assert added > 0 and added + skipped == len(rows), "every row added or already there"
    assert read_manifest(bundle).stores[0]["entries"] == entries_before + added
    assert "store version 2" in said
    new_text = next(
        json.loads(line)["text"]
        for line in (bundle / "stores/store/entries.jsonl").read_text().splitlines()
        if json.loads(line)["provenance"].get("added_in") == 2
    )
    predicted = runner.invoke(app, ["predict", str(bundle), new_text, "--top", "1"])
    assert predicted.exit_code == 0, predicted.output
    assert "added in store version 2" in " ".join(predicted.output.split())


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"text": "no labels here"}], "new.jsonl:1: no teacher_probs; a bundle has no teacher"),
        ([{"text": "three labels", "teacher_probs": [0.2, 0.3, 0.5]}], "new.jsonl:1: teacher"),
        ([NEW[0], {"teacher_probs": [0.5, 0.5]}], "new.jsonl:2: needs a text"),
        (
            [{**NEW[0], "text_pair": "a hypothesis"}],
            "new.jsonl:1: this bundle's task takes single texts",
        ),
        ([{**NEW[0], "text_pair": 3}], "new.jsonl:1: text_pair must be a string"),
    ],
)
def test_knowledge_the_bundle_cannot_take_is_refused_naming_the_line(
    bundle, tmp_path, rows, message
):
    before = (bundle / "bundle.json").read_bytes()
    result = runner.invoke(
        app, ["store", "add", str(bundle), str(write_rows(tmp_path / "new.jsonl", rows))]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert (bundle / "bundle.json").read_bytes() == before


def test_a_damaged_store_or_a_bundle_without_one_is_refused(bundle, small_run, tmp_path):
    keys = bundle / "stores" / "store" / "keys.npy"
    data = bytearray(keys.read_bytes())
    data[-1] ^= 0x01
    keys.write_bytes(bytes(data))
    new = read_labelled(write_rows(tmp_path / "new.jsonl", NEW), 2)
    with pytest.raises(BundleError, match="keys.npy"):
        add_to_bundle(bundle, new)
    _, run_dir, _ = small_run
    export_bundle(run_dir, tmp_path / "kd", ExportOptions(method="kd_student"))
    with pytest.raises(BundleError, match="kd_student has no store"):
        add_to_bundle(tmp_path / "kd", new)


def test_an_unlabelled_file_or_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a finished run"):
        read_labelled(tmp_path, 2)
    with pytest.raises(InputError, match="holds no entries"):
        read_labelled(write_rows(tmp_path / "empty.jsonl", []), 2)


def test_adding_nothing_new_changes_nothing(bundle, tmp_path):
    file = write_rows(tmp_path / "new.jsonl", NEW + NEW)  # repeats count once
    assert add_to_bundle(bundle, read_labelled(file, 2)).added == 3
    before = (bundle / "bundle.json").read_bytes()
    again = add_to_bundle(bundle, read_labelled(file, 2))
    assert (again.added, again.skipped, again.store_version) == (0, 6, 2)
    assert (bundle / "bundle.json").read_bytes() == before


def test_a_failure_part_way_leaves_the_bundle_as_it_was(bundle, tmp_path, monkeypatch):
    from retrikt_core.builtin.memory_store import MemoryStore

    def files():
        return {p.relative_to(bundle): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}

    before = files()

    def full_disk(self, path):
        raise OSError("No space left on device")

    monkeypatch.setattr(MemoryStore, "save_pretrained", full_disk)
    with pytest.raises(OSError, match="No space"):
        add_to_bundle(bundle, read_labelled(write_rows(tmp_path / "new.jsonl", NEW), 2))
    assert {
        p.relative_to(bundle): p.read_bytes() for p in bundle.rglob("*") if p.is_file()
    } == before
    assert not list(tmp_path.glob("bundle.*")), "no partial copy is left"


def test_the_runs_teacher_labels_text_given_without_labels(bundle, small_run, tmp_path):
    _, run_dir, _ = small_run
    rows = [{"text": "a zebra quantum harmonica was wonderful"}, NEW[2]]
    file = write_rows(tmp_path / "texts.jsonl", rows)
    result = runner.invoke(app, ["store", "add", str(bundle), str(file), "--teacher", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "2 entries added" in " ".join(result.output.split())
    teacher = RunDir(run_dir).load("teacher", "teacher", "teacher", get_plugins())
    lines = (bundle / "stores/store/entries.jsonl").read_text().splitlines()
    added = [json.loads(line) for line in lines][-2:]
    expected = teacher.predict_proba([Example(rows[0]["text"])])[0]
    assert np.allclose(added[0]["teacher_probs"], expected)
    assert added[0]["provenance"]["labelled_by"] == str(RunDir(run_dir).path)
    # A row that came labelled keeps its own labels.
    assert added[1]["teacher_probs"] == NEW[2]["teacher_probs"]
    assert "labelled_by" not in added[1]["provenance"]


def test_a_teacher_for_other_labels_or_a_folder_without_one_is_refused(bundle, small_run, tmp_path):
    _, run_dir, _ = small_run
    entries = read_labelled(write_rows(tmp_path / "t.jsonl", [{"text": "x"}]), 2, unlabelled=True)
    with pytest.raises(InputError, match="its teacher labels"):
        label_with_teacher(entries, run_dir, ["bad", "good"])
    with pytest.raises(InputError, match="not a finished run"):
        label_with_teacher(entries, tmp_path, ["negative", "positive"])


def paired_rows(pairs=30):
    """Pairs of entries that share rare words and a confident teacher label:
    each entry's best neighbour (its own entry left out) knows its label,
    which the student, having never seen those words, does not."""
    rows = []
    for i in range(pairs):
        label = i % 2
        probs = [0.05, 0.95] if label else [0.95, 0.05]
        for variant in ("first", "second"):
            rows.append({"text": f"zq{i}a zq{i}b zq{i}c {variant}", "teacher_probs": probs})
    return rows


def test_fit_mixing_chooses_lam_on_the_added_entries(bundle, tmp_path):
    from retrikt_core.interpolation import MIXING_LAMS, MIXING_TEMPERATURES, tune_interpolation

    store = bundle / "stores" / "store"
    entries_before = (store / "entries.jsonl").read_bytes()
    student_dir = bundle / read_manifest(bundle).student["dir"]
    student_before = {p.name: p.read_bytes() for p in student_dir.iterdir() if p.is_file()}
    before = read_manifest(bundle).retrieval
    file = write_rows(tmp_path / "pairs.jsonl", paired_rows())
    done = add_to_bundle(bundle, read_labelled(file, 2), fit_mixing=True)
    assert done.added == 60 and done.mixing is not None
    old, new = done.mixing
    assert (old.lam, old.knn_temperature) == (before.lam, before.knn_temperature)
    manifest = read_manifest(bundle)  # checksums hold after the rewrite
    assert (manifest.retrieval.lam, manifest.retrieval.knn_temperature) == (
        new.lam,
        new.knn_temperature,
    )
    assert new.lam > old.lam, "neighbours that know the label earn weight"
    # The choice is the best cross-entropy on the added entries, each
    # retrieving from the grown store with its own entry left out.
    loaded = load_bundle(bundle)
    assert (loaded.student.lam, loaded.student.knn_temperature) == (new.lam, new.knn_temperature)
    added = [e for e in loaded.stores[0].entries() if e.provenance.get("added_in") == 2]
    examples = [e.example for e in added]
    expected = tune_interpolation(
        np.asarray(loaded.student.predict_proba(examples)),
        loaded.retriever.retrieve(examples),
        np.asarray([e.teacher_probs for e in added]),
        MIXING_LAMS,
        MIXING_TEMPERATURES,
    )
    assert (new.lam, new.knn_temperature) == expected
    # Only bundle.json's settings change: the student's files and the
    # earlier entries keep their bytes.
    assert {p.name: p.read_bytes() for p in student_dir.iterdir() if p.is_file()} == student_before
    assert (store / "entries.jsonl").read_bytes().startswith(entries_before)
    assert f"lam {old.lam:.2f} -> {new.lam:.2f}" in (bundle / "README.md").read_text()


def test_fit_mixing_is_refused_on_too_few_entries_or_fixed_settings(bundle, small_run, tmp_path):
    before = (bundle / "bundle.json").read_bytes()
    few = read_labelled(write_rows(tmp_path / "few.jsonl", paired_rows(10)), 2)
    with pytest.raises(InputError, match="20 new entries; choosing lam on fewer than 50"):
        add_to_bundle(bundle, few, fit_mixing=True)
    assert (bundle / "bundle.json").read_bytes() == before
    config, _, _ = small_run
    fixed_run, fixed = tmp_path / "fixed-run", tmp_path / "fixed"
    make_pipeline(config, fixed_run, ["student.lam=0.3", "student.knn_temperature=0.5"]).run()
    export_bundle(fixed_run, fixed)
    before = (fixed / "bundle.json").read_bytes()
    many = read_labelled(write_rows(tmp_path / "many.jsonl", paired_rows()), 2)
    with pytest.raises(InputError, match="no lam or temperature left to choose"):
        add_to_bundle(fixed, many, fit_mixing=True)
    assert (fixed / "bundle.json").read_bytes() == before
    assert not list(tmp_path.glob("fixed.*")), "no partial copy is left"


def test_the_cli_fits_mixing_and_says_what_changed(bundle, tmp_path):
    file = write_rows(tmp_path / "pairs.jsonl", paired_rows())
    result = runner.invoke(app, ["store", "add", str(bundle), str(file), "--fit-mixing"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    lam = read_manifest(bundle).retrieval.lam
    assert f"-> {lam:.2f}, neighbour temperature" in said
    assert "chosen on the 60 added entries" in said
