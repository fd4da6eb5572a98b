"""The `files` task reads the shapes real datasets come in: headerless files
(fields by position or named columns), compressed files, comment lines,
TSVs whose texts hold quotes, Parquet, a folder of files per split, and
labels given as codes; bad shapes are refused naming the file and row."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
from retrikt_core.cli import app
from retrikt_core.errors import ConfigError, TaskDataError
from retrikt_core.testing.runs import fast_config

# source, label, annotation, sentence: a GLUE-style headerless TSV (CoLA's shape)
ROWS = [
    ("gj04", "1", "", "our friends won't buy this analysis"),
    ("gj04", "0", "*", 'they drank the pub "dry'),
    ("gj04", "1", "", "one more pseudo generalization and i'm giving up"),
    ("gj04", "0", "*", "the more we study verbs , the crazier they get ."),
]
NAMES = ["unacceptable", "acceptable"]


def headerless(path, rows=ROWS):
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def task(train, eval_=None, **options) -> FilesTask:
    defaults = {"label_names": NAMES, "k_shot": 1}
    return FilesTask(
        FilesTaskOptions(train_file=str(train), eval_file=str(eval_ or train), **defaults | options)
    )


def texts_and_labels(examples):
    return [(e.text, e.label) for e in examples]


EXPECTED = [(r[3], int(r[1])) for r in ROWS]


def test_a_headerless_tsv_by_position_keeps_every_row_and_says_why(tmp_path):
    t = task(headerless(tmp_path / "train.tsv"), text_field=3, label_field=1)
    assert texts_and_labels(t.load("train")) == EXPECTED
    report = t.data_report("train")
    assert report["header"] is False
    assert "'1' is a label value" in report["header_reason"]
    assert report["columns"] == ["0", "1", "2", "3"]


def test_a_headerless_tsv_with_named_columns(tmp_path):
    t = task(
        headerless(tmp_path / "train.tsv"),
        columns=["source", "label", "mark", "sentence"],
        text_field="sentence",
    )
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["header"] is False


def test_auto_detects_a_header_row_when_fields_are_positions(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("source\tlabel\tmark\tsentence\n" + headerless(path).read_text())
    t = task(path, text_field=3, label_field=1)
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["header"] is True
    assert "'label' is not a label value" in t.data_report("train")["header_reason"]


def test_header_false_reads_the_first_row_as_data(tmp_path):
    path = tmp_path / "train.tsv"
    headerless(path, [("s", "1", "", "first"), *ROWS])
    examples = task(path, header="false", text_field=3, label_field=1).load("train")
    assert examples[0].text == "first" and len(examples) == len(ROWS) + 1


def test_a_missing_header_names_the_way_out(tmp_path):
    t = task(headerless(tmp_path / "train.tsv"), text_field="sentence", label_field=1)
    with pytest.raises(TaskDataError, match=r"no field 'sentence'.*no header row.*by position"):
        t.load("train")


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compressed_files_read_as_the_plain_one(tmp_path, suffix, compress):
    plain = headerless(tmp_path / "plain.tsv")
    packed = tmp_path / f"train.tsv{suffix}"
    packed.write_bytes(compress(plain.read_bytes()))
    t = task(packed, text_field=3, label_field=1)
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["format"] == "tsv"


def test_comment_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("# CoLA in-domain\n" + headerless(path).read_text() + "# end\n\n")
    t = task(path, text_field=3, label_field=1, comment="#")
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["skipped"] == {"comment": 2, "blank": 1}


def test_quoting_none_keeps_a_csv_texts_quotes(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\n"quoted start,1\nplain,0\nthird,1\n')
    t = task(path, quoting="none")
    assert [e.text for e in t.load("train")] == ['"quoted start', "plain", "third"]


def test_an_unclosed_quote_names_the_file_line_and_the_fix(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\nfine,1\n"never closed,0\nthird,1\n')
    with pytest.raises(TaskDataError, match=r"train\.csv:3: .*quoting = \"none\""):
        task(path).load("train")


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    table = pa.table({"sentence": [r[3] for r in ROWS], "label": [int(r[1]) for r in ROWS]})
    pq.write_table(table, path)
    t = task(path, text_field="sentence")
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["format"] == "parquet"


def test_a_folder_of_files_is_one_split(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    headerless(folder / "part-000.tsv", ROWS[:2])
    headerless(folder / "part-001.tsv", ROWS[2:])
    t = task(folder, eval_=headerless(tmp_path / "eval.tsv"), text_field=3, label_field=1)
    assert texts_and_labels(t.load("train")) == EXPECTED
    assert t.data_report("train")["files"] == 2
    assert set(t.fingerprint()["train"]) == {"part-000.tsv", "part-001.tsv"}


def test_label_map_reads_codes_and_refuses_an_unknown_one_naming_the_row(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"s": "good", "y": "+"}, {"s": "bad", "y": "-"}, {"s": "odd", "y": "?"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    label_map = {"+": "acceptable", "-": "unacceptable"}
    t = task(path, text_field="s", label_field="y", label_map=label_map)
    with pytest.raises(TaskDataError, match=r"row 2: field 'y' has value '\?'"):
        t.load("train")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    assert texts_and_labels(t.load("train")) == [("good", 1), ("bad", 0)]


def test_label_map_must_map_to_label_names(tmp_path):
    path = headerless(tmp_path / "train.tsv")
    with pytest.raises(ConfigError, match=r"task\.label_map: maps to 'good'"):
        task(path, text_field=3, label_field=1, label_map={"1": "good"}).check()


@pytest.mark.parametrize(
    "values", [["1", "0", "2"], ["1"], ["1", "1"]], ids=["extra", "short", "repeated"]
)
def test_label_values_must_give_one_distinct_value_per_label(tmp_path, values):
    """An extra value would map to a label index without a name (an
    IndexError later); a repeated one would give two labels one value."""
    path = headerless(tmp_path / "train.tsv")
    with pytest.raises(ConfigError, match=r"task\.label_values: give one distinct value"):
        task(path, text_field=3, label_field=1, label_values=values).check()
    config = write_config(tmp_path, path, text_field=3, label_field=1, label_values=values)
    result = CliRunner().invoke(app, ["data", "check", config])
    assert result.exit_code == 2 and result.output.startswith("error: task.label_values")


def test_verbalizers_must_be_distinct_words(tmp_path):
    path = headerless(tmp_path / "train.tsv")
    with pytest.raises(ConfigError, match=r"task\.verbalizers: one distinct word per label"):
        task(path, text_field=3, label_field=1, verbalizers=["good", "good"]).check()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text_field": 1, "label_field": 1}, "the text and the label are both read from field"),
        ({"text_field": 3, "text_pair_field": 3, "label_field": 1}, "the text and the text_pair"),
    ],
    ids=["text-is-label", "pair-is-text"],
)
def test_two_fields_read_from_one_column_are_refused(tmp_path, fields, message):
    """A label read from the text column would be learned from the text: a
    perfect score, not an error, unless the clash is caught."""
    t = task(headerless(tmp_path / "train.tsv"), **fields)
    with pytest.raises(TaskDataError, match=re.escape(message)):
        t.load("train")


def test_a_position_past_the_last_column_is_named(tmp_path):
    t = task(headerless(tmp_path / "train.tsv"), text_field=7, label_field=1)
    with pytest.raises(TaskDataError, match=r"task\.text_field = 7: no such column; .* has 4"):
        t.load("train")


def write_config(tmp_path, train, **task_options) -> str:
    lines = [f"{k} = {json.dumps(v)}" for k, v in task_options.items()]
    config = tmp_path / "config.toml"
    # The same rows under another name: a task refuses one file for both splits.
    eval_ = Path(train).with_name("eval" + "".join(Path(train).suffixes))
    shutil.copyfile(train, eval_)
    task = f"""
[task]
plugin = "files"
train_file = "{train}"
eval_file = "{eval_}"
label_names = {json.dumps(NAMES)}
k_shot = 1
{chr(10).join(lines)}
"""
    config.write_text(fast_config(task, n_total=1))
    return str(config)


def test_data_check_prints_what_was_read(tmp_path):
    config = write_config(tmp_path, headerless(tmp_path / "train.tsv"), text_field=3, label_field=1)
    result = CliRunner().invoke(app, ["data", "check", config, "--json"])
    assert result.exit_code == 0, result.output
    train = json.loads(result.output)[0]
    assert train["rows"] == 4 and train["by_label"] == {"unacceptable": 2, "acceptable": 2}
    assert train["first"][1] == {
        "text": 'they drank the pub "dry',
        "text_pair": None,
        "label": "unacceptable",
    }
    assert train["read"]["header"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"train\.csv: no rows"),
        (b"text,label\n", r"train\.csv: no rows under the header"),
        (b"text,label\na,1,extra\n", r"train\.csv:2: 3 fields, expected 2"),
        (b'text,label\n"open,1\n', r"train\.csv:2: .*quote"),
        (b"text,label\ncaf\xe9,1\n", r"train\.csv:2: not UTF-8"),
        (b"text,label\nfine,7\n", r"row 0: field 'label' has value '7'"),
    ],
    ids=["empty", "header-only", "extra-field", "open-quote", "latin-1", "unknown-label"],
)
def test_bad_shapes_exit_2_naming_file_and_row(tmp_path, content, message):
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["data", "check", write_config(tmp_path, path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert re.search(message, " ".join(result.output.split())), result.output
    assert "Traceback" not in result.output


def test_the_readme_shapes_on_real_files(tmp_path):
    """README's two shapes on the shared data: SST-2 without its header row,
    gzipped and read by position, gives the `sst2` preset's examples; RTE's
    JSONL reads as a pair task."""
    from retrikt_core.builtin.tasks import RTETask, SST2Task
    from retrikt_core.builtin.tasks.presets import PresetOptions
    from retrikt_core.testing.runs import shared_data_or_skip

    data = shared_data_or_skip("sst2")
    shared_data_or_skip("rte")
    for split in ("train", "dev"):
        lines = (data / "sst2" / f"{split}.tsv").read_bytes().split(b"\n", 1)[1]
        (tmp_path / f"{split}.tsv.gz").write_bytes(gzip.compress(lines))
    headerless_sst2 = FilesTask(
        FilesTaskOptions(
            train_file=str(tmp_path / "train.tsv.gz"),
            eval_file=str(tmp_path / "dev.tsv.gz"),
            text_field=0,
            label_field=1,
            label_map={"0": "negative", "1": "positive"},
            label_names=["negative", "positive"],
        )
    )
    preset = SST2Task(PresetOptions(data_dir=str(data)))
    mine, theirs = headerless_sst2.load("train"), preset.load("train")
    assert texts_and_labels(mine) == texts_and_labels(theirs)
    assert headerless_sst2.data_report("train")["header"] is False
    assert headerless_sst2.sample_k_shot(mine, 16, 0) == preset.sample_k_shot(theirs, 16, 0)

    rte = FilesTask(
        FilesTaskOptions(
            train_file=str(data / "rte" / "train.jsonl"),
            eval_file=str(data / "rte" / "val.jsonl"),
            text_field="premise",
            text_pair_field="hypothesis",
            label_names=["entailment", "not_entailment"],
        )
    )
    rte_preset = RTETask(PresetOptions(data_dir=str(data)))
    pairs = [(e.text, e.text_pair, e.label) for e in rte.load("eval")]
    assert pairs == [(e.text, e.text_pair, e.label) for e in rte_preset.load("val")]


def test_positional_fields_title_prompts_by_name_and_keep_their_positions(tmp_path):
    t = task(headerless(tmp_path / "train.tsv"), text_field=3, label_field=1)
    assert t.field_names == ("text",) and t.field_refs == (3,)


def test_a_text_with_a_unicode_line_separator_stays_one_row(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"text": "one\u2028line", "label": 1}, {"text": "two\x0cparts", "label": 0}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    assert [e.text for e in task(path).load("train")] == ["one\u2028line", "two\x0cparts"]
    csv_path = tmp_path / "train.csv"
    csv_path.write_text("text,label\none\u2028line,1\ntwo,0\n", encoding="utf-8")
    assert [e.text for e in task(csv_path).load("train")] == ["one\u2028line", "two"]


def test_a_jsonl_row_missing_the_text_names_the_row(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n{"label": 0}\n')
    with pytest.raises(TaskDataError, match=r"row 1: no field 'text'"):
        task(path).load("train")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"row 1: field 'text' must be text, got None"),
        (["a"], r"row 1: field 'text' must be text, got \['a'\]"),
        ({"a": 1}, r"row 1: field 'text' must be text"),
        (True, r"row 1: field 'text' must be text, got True"),
        ("  ", r"row 1: field 'text' is empty"),
    ],
)
def test_a_text_that_is_not_text_names_the_row(tmp_path, value, message):
    # Read as str(value) it would train on "None" or "['a']" without a word.
    path = tmp_path / "train.jsonl"
    rows = [{"text": "fine", "label": 1}, {"text": value, "label": 0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(TaskDataError, match=message):
        task(path).load("train")


def test_a_number_is_read_as_text(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n{"text": 42, "label": 0}\n')
    assert [e.text for e in task(path).load("train")] == ["fine", "42"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no rows; task.text_field = 'text' has nothing to read"),
        ('{}\n{"text": "a", "label": "1"}\n', "no field 'text'; fields are none (row 0 is empty)"),
    ],
    ids=["empty", "empty-first-row"],
)
def test_a_jsonl_file_without_fields_says_so(tmp_path, content, message):
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    with pytest.raises(TaskDataError, match=re.escape(f"{path}: {message}")):
        FilesTask(
            FilesTaskOptions(train_file=str(path), eval_file=str(path), label_names=NAMES)
        ).load("train")
