"""Every config in examples/configs validates against the shipped plugins and,
where the shared data is present, passes the pre-flight check that runs before
any model loads: the task's files are there and each knowledge source can give
what extract asks of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import shared_data_or_skip
from retrikt_core.config import load_toml, validate
from retrikt_core.pipeline import Pipeline
from retrikt_core.plugins import get_plugins

CONFIGS = sorted((Path(__file__).parents[1] / "examples" / "configs").glob("*.toml"))


def test_the_examples_are_found():
    assert {"sst2-retrikt.toml", "rte-transfer.toml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_validates_and_passes_the_preflight_check(path, tmp_path, monkeypatch):
    raw = load_toml(path)
    monkeypatch.setenv("RETRIKT_DATA_DIR", str(shared_data_or_skip(raw["task"]["plugin"])))
    plugins = get_plugins()
    config = validate(raw, plugins.registry, source=str(path))
    Pipeline(config, plugins, tmp_path / "run").check()
