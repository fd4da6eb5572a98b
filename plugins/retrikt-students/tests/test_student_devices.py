"""The students' device option: checked when the config is validated, and a
student trained on one device saved so that it loads on another."""

from __future__ import annotations

import pytest


def test_a_config_asking_for_a_missing_gpu_is_refused_before_any_stage(monkeypatch):
    import torch
    from retrikt_students.tiny_transformer import TransformerStudent

    from retrikt_core.config import ConfigError, build_options

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="student.device: 'cuda:0': this machine has no CUDA"):
        build_options("student", TransformerStudent.Options, {"device": "cuda:0"})


def test_a_student_saved_with_a_gpu_name_loads_on_the_cpu(tmp_path, monkeypatch):
    """A run or bundle made on a GPU predicts where there is none."""
    import json

    import torch
    from retrikt_students.tiny_transformer import TransformerStudent

    from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions
    from retrikt_core.records import Example

    task = FilesTask(FilesTaskOptions(label_names=["negative", "positive"]))
    examples = [Example("dull and bad", label=0, id="a"), Example("warm and fun", label=1, id="b")]
    options = TransformerStudent.Options(
        vocab_size=50, d_model=16, layers=1, heads=2, ff=32, epochs=1
    )
    student = TransformerStudent(options)
    student.fit(task, examples, [], None, seed=0)
    student.save_pretrained(tmp_path / "student")
    meta = json.loads((tmp_path / "student" / "component.json").read_text())
    meta["options"]["device"] = "cuda:0"  # as a GPU run would have written it
    (tmp_path / "student" / "component.json").write_text(json.dumps(meta))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = TransformerStudent.from_pretrained(tmp_path / "student")
    assert loaded.device == "cpu"
    assert loaded.predict_proba(examples) == student.predict_proba(examples)
