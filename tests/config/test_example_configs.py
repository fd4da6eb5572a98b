"""Every config in examples/configs validates against the shipped plugins and,
where the shared data is present, passes the pre-flight check that runs before
any model loads: the task's files are there and each knowledge source can give
what extract asks of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrikt_core.config import load_toml, validate
from retrikt_core.pipeline import Pipeline
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.runs import shared_data_or_skip

CONFIGS = sorted((Path(__file__).parents[2] / "examples" / "configs").glob("*.toml"))


def test_the_examples_are_found():
    assert {"sst2-retrikt.toml", "rte-transfer.toml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_validates_and_passes_the_preflight_check(path, tmp_path, monkeypatch):
    raw = load_toml(path)
    for section in ("generator", "second_source"):
        if raw.get(section, {}).get("plugin") == "knowledge":
            # Knowledge from finished runs: stand-in runs with enough pairs.
            raw[section]["path"] = str(stand_in_run(tmp_path / section, raw["extract"]))
    monkeypatch.setenv("RETRIKT_DATA_DIR", str(shared_data_or_skip(raw["task"]["plugin"])))
    plugins = get_plugins()
    config = validate(raw, plugins.registry, source=str(path))
    Pipeline(config, plugins, tmp_path / "run").check()


def stand_in_run(run_dir: Path, extract: dict) -> Path:
    file = run_dir / "stages" / "extract" / "knowledge.jsonl"
    file.parent.mkdir(parents=True)
    entry = {"text": "A man plays.", "text_pair": "Someone plays.", "teacher_probs": [0.5, 0.5]}
    file.write_text("".join(json.dumps(entry) + "\n" for _ in range(extract["n_total"])))
    return run_dir
