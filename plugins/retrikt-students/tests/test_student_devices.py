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
