"""Fixtures of the core's tests: quiet progress, a tiny end-to-end run, and
the testkit plugins installed through a real entry point (a dist-info on
sys.path). Helpers live in :mod:`retrikt_core.testing.runs`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from retrikt_core.plugins import reset_plugins
from retrikt_core.testing.runs import install_entry_points, write_config, write_sentiment_files

TESTKIT = Path(__file__).parent / "testkit"


@pytest.fixture
def testkit_site(tmp_path, monkeypatch):
    """The testkit (and a broken plugin) installed via entry points, importable
    in-process and by subprocesses (PYTHONPATH)."""
    site = tmp_path / "site"
    site.mkdir()
    for module in ("retrikt_testkit.py", "retrikt_broken.py"):
        shutil.copy(TESTKIT / module, site / module)
    install_entry_points(site, "retrikt-testkit", {"testkit": "retrikt_testkit"})
    install_entry_points(site, "retrikt-broken", {"broken": "retrikt_broken"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RETRIKT_TEST_LOG", str(tmp_path / "events.log"))
    reset_plugins()
    yield site
    reset_plugins()
    for name in ("retrikt_testkit", "retrikt_broken"):
        sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("RETRIKT_PROGRESS", "0")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.delenv("RETRIKT_LOAD_PLUGINS", raising=False)
    reset_plugins()


@pytest.fixture
def small_run(tmp_path, testkit_site):
    """(config path, run dir, events log) for a tiny end-to-end run."""
    data = write_sentiment_files(tmp_path / "data")
    run_dir = tmp_path / "run"
    config = write_config(tmp_path / "config.toml", data, run_dir)
    return config, run_dir, tmp_path / "events.log"
