"""docs/cli_page.py, the runner of the docs' console examples, for the docs tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli_page():
    spec = importlib.util.spec_from_file_location("cli_page", ROOT / "docs" / "cli_page.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cli_page"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
