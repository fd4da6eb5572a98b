"""The vllm components' options and their errors: these need no engine."""

from __future__ import annotations

import pytest
from retrikt_vllm import engine
from retrikt_vllm.generator import VLLMGenerator, request_seed
from retrikt_vllm.teacher import VLLMTeacher

from retrikt_core.config import validate
from retrikt_core.errors import ConfigError, RetriktError
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.runs import make_pipeline, write_config, write_sentiment_files


def test_the_engine_options_are_options_of_both_components():
    registry = get_plugins().registry
    assert registry.get("generator", "vllm") is VLLMGenerator
    assert registry.get("teacher", "vllm") is VLLMTeacher
    for cls in (VLLMGenerator, VLLMTeacher):
        names = set(cls.Options.__dataclass_fields__)
        # the llm component's options, and how the engine starts
        assert {"model", "virtual_tokens", "dtype", "device"} <= names
        assert {"max_model_len", "kv_cache_gb", "memory_share", "enforce_eager"} <= names


def test_bad_engine_options_are_section_key_errors():
    raw = {
        "task": {"plugin": "sst2"},
        "generator": {"plugin": "vllm", "kv_cache_gb": 0},
        "teacher": {"plugin": "vllm", "max_model_len": 4},
    }
    with pytest.raises(ConfigError) as info:
        validate(raw, get_plugins().registry)
    assert "generator.kv_cache_gb" in str(info.value)


def test_a_run_naming_the_engine_where_vllm_is_missing_stops_before_any_stage(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(engine, "vllm_available", lambda: False)
    data = write_sentiment_files(tmp_path / "data")
    config = write_config(tmp_path / "run.toml", data, tmp_path / "run")
    pipeline = make_pipeline(config, tmp_path / "run", ["generator.plugin=vllm"])
    with pytest.raises(ConfigError, match=r"generator\.plugin: the vllm engine needs"):
        pipeline.run()
    assert not (tmp_path / "run" / "prepare").exists()


def test_an_engine_asked_for_where_vllm_is_missing_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(engine, "vllm_available", lambda: False)
    with pytest.raises(RetriktError, match="make setup-vllm"):
        engine.engine("smollm2-135m-instruct", "float32", engine.EngineOptions())


def test_the_tiny_random_model_is_refused_with_what_to_use_instead():
    with pytest.raises(RetriktError, match="too small for vLLM"):
        engine.engine_model("tiny-random-llama")


def test_request_seeds_differ_per_sample_and_per_seed():
    seeds = {request_seed(s, i) for s in range(3) for i in range(100)}
    assert len(seeds) == 300
    assert all(0 <= s < 2**31 for s in seeds)
