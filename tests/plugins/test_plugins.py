"""Plugin discovery through the ``retrikt`` entry-point group."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from retrikt_core.plugins import UnknownComponentError, get_plugins, reset_plugins


def test_testkit_is_discovered_through_its_entry_point(testkit_site):
    plugins = get_plugins()
    info = plugins.infos["testkit"]
    assert info.package == "retrikt-testkit"
    assert info.version == "0.0.1"
    assert info.components == {"generator": ["template", "template-chunked"]}
    assert info.error is None
    assert plugins.registry.entry("generator", "template").package == "retrikt-testkit"


def test_builtin_components_register_like_any_plugin(testkit_site):
    info = get_plugins().infos["builtin"]
    assert info.package == "retrikt-core"
    assert "sst2" in info.components["task"]
    assert info.components["optimizer"] == ["none"]


def test_broken_plugin_is_recorded_not_raised(testkit_site):
    info = get_plugins().infos["broken"]
    assert info.error is not None
    assert "ImportError: this plugin is broken on purpose" in info.error
    assert info.components == {}


def test_load_env_restricts_plugins(testkit_site, monkeypatch):
    monkeypatch.setenv("RETRIKT_LOAD_PLUGINS", "testkit")
    reset_plugins()
    assert set(get_plugins().infos) == {"testkit"}
    monkeypatch.setenv("RETRIKT_LOAD_PLUGINS", "")
    reset_plugins()
    assert get_plugins().infos == {}


def test_unknown_component_lists_available_and_packages(testkit_site):
    with pytest.raises(UnknownComponentError) as err:
        get_plugins().registry.get("generator", "templat")
    message = str(err.value)
    assert "unknown generator 'templat'" in message
    assert "corpus (retrikt-core)" in message
    assert "template (retrikt-testkit)" in message
    assert "Did you mean 'template'?" in message


def test_duplicate_component_name_is_a_plugin_error(testkit_site):
    plugins = get_plugins()
    from retrikt_core import hookimpl

    class Clash:
        @hookimpl
        def register_generators(self, register):
            from retrikt_core.builtin.bow import BowTeacher

            class Corpus(BowTeacher):  # same name as the built-in generator
                name = "corpus"

            register(Corpus)

    info = plugins.register(Clash(), "clash")
    assert info.error is not None and "registered twice" in info.error


def test_plugins_json_cli_shape_with_broken_plugin(testkit_site):
    out = subprocess.run(
        [sys.executable, "-m", "retrikt_core.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    assert {"builtin", "testkit", "broken"} <= set(rows)
    for row in rows.values():
        assert set(row) == {"name", "package", "version", "components", "error"}
    assert rows["broken"]["error"].startswith("ImportError")
    assert rows["testkit"]["components"] == {"generator": ["template", "template-chunked"]}
    assert rows["builtin"]["error"] is None


def test_example_third_party_plugin_is_installed_and_discovered():
    """`make test` installs examples/retrikt-plugin-example; it must be found
    through its entry point like any third-party package."""
    plugins = get_plugins()
    if "lexicon" not in plugins.infos:
        pytest.fail(
            "retrikt-lexicon is not installed: run `make test` (it pip-installs "
            "examples/retrikt-plugin-example)"
        )
    info = plugins.infos["lexicon"]
    assert info.package == "retrikt-lexicon"
    assert info.components == {"teacher": ["lexicon"]}
    assert info.error is None
