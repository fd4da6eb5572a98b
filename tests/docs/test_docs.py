"""docs/configuration.md is generated from the option definitions; it must not drift."""

from __future__ import annotations

import tomllib
from pathlib import Path

from retrikt_core.config.schema import config_schema, schema_markdown
from retrikt_core.plugins import Plugins

ROOT = Path(__file__).resolve().parents[2]


def shipped_plugin_names() -> set[str]:
    """`builtin` plus the entry points of the packages under plugins/."""
    names = {"builtin"}
    for pyproject in ROOT.glob("plugins/*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        names |= set(project.get("entry-points", {}).get("retrikt", {}))
    return names


def test_configuration_reference_is_up_to_date():
    plugins = Plugins()
    plugins.load_entry_points(shipped_plugin_names())
    expected = schema_markdown(config_schema(plugins.registry))
    actual = (ROOT / "docs" / "configuration.md").read_text()
    assert actual == expected, "docs/configuration.md is stale: run `make docs`"


def test_schema_lists_every_registered_option():
    plugins = Plugins()
    plugins.load_entry_points({"builtin"})
    schema = config_schema(plugins.registry)
    student = schema["components"]["student"]["bow-knn"]
    assert student["package"] == "retrikt-core"
    names = [o["name"] for o in student["options"]]
    assert names[:2] == ["dim", "ngram"] and "kshot_weight" in names
    assert {o["name"] for o in schema["core"]["extract"]} >= {"n_per_label", "n_total"}
