"""Knowledge from two sources in one store (LLM-style generations and a corpus
of real text), the split between them, the checks made before any model
loads, and eval leakage from a corpus."""

from __future__ import annotations

import csv
import json

import pytest

from retrikt_core.config import ConfigError
from retrikt_core.knowledge import plan_requests
from retrikt_core.testing.runs import (
    fast_config,
    make_pipeline,
    task_section,
    write_sentiment_files,
)


def test_one_source_keeps_its_convention():
    assert plan_requests(5, 0, 2, [("generator", True)], 0.5) == [
        ("generator", 0, 5),
        ("generator", 1, 5),
    ]
    assert plan_requests(5, 0, 2, [("generator", False)], 0.5) == [("generator", None, 10)]
    assert plan_requests(5, 30, 2, [("generator", False)], 0.5) == [("generator", None, 30)]


def test_two_sources_split_the_total():
    sources = [("generator", True), ("second_source", False)]
    assert plan_requests(10, 0, 3, sources, 0.5) == [
        ("generator", 0, 5),
        ("generator", 1, 5),
        ("generator", 2, 5),
        ("second_source", None, 15),
    ]
    # An odd share: the generator's part is spread over labels, first labels first.
    assert plan_requests(10, 0, 3, sources, 0.4) == [
        ("generator", 0, 6),
        ("generator", 1, 6),
        ("generator", 2, 6),
        ("second_source", None, 12),
    ]
    assert plan_requests(10, 0, 2, sources, 1.0) == [("second_source", None, 20)]
    assert plan_requests(10, 0, 2, sources, 0.0) == [("generator", 0, 10), ("generator", 1, 10)]


def first_eval_text(tmp_path):
    with open(tmp_path / "data" / "eval.csv", newline="") as handle:
        return next(csv.DictReader(handle))["text"]


def write_corpus(path, texts):
    path.write_text("\n".join(texts) + "\n")
    return path


def mixed_config(config, corpus, extra=""):
    config.write_text(
        config.read_text() + f'\n[second_source]\nplugin = "corpus"\npath = "{corpus}"\n{extra}'
    )


CORPUS = [f"an honest and warm little story number {i}" for i in range(60)]


def test_a_mixed_store_keeps_sources_and_reports_them(small_run, tmp_path):
    config, run_dir, _ = small_run
    eval_text = first_eval_text(tmp_path)
    corpus = write_corpus(tmp_path / "corpus.txt", CORPUS + [eval_text])
    text = config.read_text().replace(
        "n_per_label = 40", "n_per_label = 40\nn_total = 61\nsecond_source_share = 0.5"
    )
    config.write_text(text)
    mixed_config(config, corpus)
    metrics = make_pipeline(config, run_dir).run()
    lines = (run_dir / "stages" / "extract" / "knowledge.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    sources = {e["source"] for e in entries}
    assert sources == {"generator", "corpus"}
    assert all(
        e["provenance"]["origin"].endswith("corpus.txt") for e in entries if e["source"] == "corpus"
    )
    counts = json.loads((run_dir / "manifest.json").read_text())["stages"]["extract"]["counts"]
    assert counts["generated"] == 61  # 31 asked of the generator (16 + 15), 30 of the corpus
    by_source = metrics["methods"]["retrikt_student"]["by_source"]
    assert set(by_source) == {"generator", "corpus"}
    assert sum(r["neighbour_share"] for r in by_source.values()) == pytest.approx(1.0)
    assert sum(r["top1_examples"] for r in by_source.values()) == metrics["eval_examples"]
    assert "Retrieval by knowledge source" in (run_dir / "report.md").read_text()


def test_a_planted_eval_example_in_the_corpus_is_dropped(small_run, tmp_path):
    config, run_dir, _ = small_run
    eval_text = first_eval_text(tmp_path)
    corpus = write_corpus(tmp_path / "corpus.txt", CORPUS[:20] + [eval_text])
    config.write_text(
        config.read_text()
        .replace('plugin = "template"', f'plugin = "corpus"\npath = "{corpus}"')
        .replace("n_per_label = 40", "n_total = 21")
    )
    make_pipeline(config, run_dir).run()
    counts = json.loads((run_dir / "manifest.json").read_text())["stages"]["extract"]["counts"]
    assert counts["dropped_eval_overlap"] == 1
    kept = (run_dir / "stages" / "extract" / "knowledge.jsonl").read_text()
    assert eval_text not in kept


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", r"second_source\.path: corpus file not found: .*nowhere\.txt"),
        ("empty", r"second_source\.path: corpus file .*empty\.txt holds no text"),
        ("field", r"second_source\.text_field: .*rows\.csv has no field 'body'; fields are text"),
        (
            "null",
            r"second_source\.path: .*nulls\.jsonl: row 1: field 'text' must be text, got None",
        ),
        (
            "small",
            r"second_source\.path: the corpus .*small\.txt holds 3 texts; extract asks "
            r"for 40",
        ),
    ],
)
def test_bad_corpus_is_refused_before_any_stage(small_run, tmp_path, setup, message):
    config, run_dir, _ = small_run
    if setup == "missing":
        extra = f'path = "{tmp_path / "nowhere.txt"}"'
    elif setup == "empty":
        (tmp_path / "empty.txt").write_text("\n\n")
        extra = f'path = "{tmp_path / "empty.txt"}"'
    elif setup == "field":
        (tmp_path / "rows.csv").write_text("text\nsome words here\n")
        extra = f'path = "{tmp_path / "rows.csv"}"\ntext_field = "body"'
    elif setup == "null":
        (tmp_path / "nulls.jsonl").write_text('{"text": "some words here"}\n{"text": null}\n')
        extra = f'path = "{tmp_path / "nulls.jsonl"}"'
    else:
        write_corpus(tmp_path / "small.txt", CORPUS[:3])
        extra = f'path = "{tmp_path / "small.txt"}"'
    config.write_text(config.read_text() + f'\n[second_source]\nplugin = "corpus"\n{extra}\n')
    with pytest.raises(ConfigError, match=message):
        make_pipeline(config, run_dir).run()
    assert not (run_dir / "stages" / "prepare").exists(), "refused before any stage ran"


def test_a_k_shot_larger_than_the_split_is_named_not_extract(tmp_path):
    """The task's own train split as corpus: when the k-shot sample alone
    needs more rows than the split has, no extract setting could help, so
    the error names task.k_shot (not a negative count of texts)."""
    data = write_sentiment_files(tmp_path / "data")  # 60 train rows, two labels
    config = tmp_path / "config.toml"
    config.write_text(fast_config(task_section(data, k_shot=31)))
    with pytest.raises(ConfigError) as error:
        make_pipeline(config, tmp_path / "run").run()
    message = str(error.value)
    assert message.startswith("task.k_shot: 31 per label takes 62 examples"), message
    assert "has 60" in message and "-2" not in message
    assert not (tmp_path / "run" / "stages" / "prepare").exists(), "refused before any stage ran"


def test_filters_that_drop_every_entry_drawn_stop_the_run_by_name(tmp_path):
    """Otherwise the store is empty and the retrieving student silently
    becomes the k-shot student."""
    data = write_sentiment_files(tmp_path / "data")
    config = tmp_path / "config.toml"
    config.write_text(fast_config(task_section(data, k_shot=4), n_total=24))
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError) as error:
        make_pipeline(config, run_dir, ["extract.min_words=100", "extract.max_words=100"]).run()
    message = str(error.value)
    assert message.startswith("extract: the filters dropped all"), message
    assert "extract.min_words" in message and "degenerate" in message
    assert not (run_dir / "stages" / "extract").exists()
