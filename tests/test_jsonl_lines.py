"""JSON lines are read by "\\n" alone: generated text may hold U+2028, U+0085
or a form feed, at which ``str.splitlines()`` would cut a record in two."""

from __future__ import annotations

import json

import pytest

from retrikt_core.bundle.additions import read_labelled
from retrikt_core.errors import InputError
from retrikt_core.records import Knowledge, dump_jsonl, jsonl_lines

BREAKS = "one\u2028two\x85three\x0cfour\x1cfive"


def test_only_newline_ends_a_line():
    text = '{"a": 1}\r\n\n  \n' + json.dumps({"t": BREAKS}, ensure_ascii=False) + "\n"
    lines = jsonl_lines(text)
    assert [number for number, _ in lines] == [1, 4]
    assert [json.loads(line) for _, line in lines] == [{"a": 1}, {"t": BREAKS}]
    assert jsonl_lines("") == [] and jsonl_lines("\n\n") == []


def test_records_with_line_breaks_in_their_text_round_trip():
    entries = [
        Knowledge(BREAKS, teacher_probs=(0.2, 0.8), id="a"),
        Knowledge("plain", text_pair=BREAKS, teacher_probs=(0.6, 0.4), id="b"),
    ]
    text = dump_jsonl(entries)
    assert len(text.splitlines()) > len(entries)  # what a naive reader would see
    assert [Knowledge.from_dict(json.loads(line)) for _, line in jsonl_lines(text)] == entries


def test_store_add_reads_a_file_whose_text_holds_breaks(tmp_path):
    rows = [
        {"text": BREAKS, "teacher_probs": [0.3, 0.7]},
        {"text": "fine", "teacher_probs": [1, 0]},
    ]
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    entries = read_labelled(path, 2)
    assert [e.text for e in entries] == [BREAKS, "fine"]
    # Errors still name the line a file viewer shows.
    path.write_text(path.read_text("utf-8") + '{"text": "no labels"}\n', "utf-8")
    with pytest.raises(InputError, match=r"new\.jsonl:3: no teacher_probs"):
        read_labelled(path, 2)
