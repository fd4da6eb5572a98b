"""Every component that retrikt ships (the built-ins, the packages under
plugins/ and the example plugin) has a run of its kind's contract suite, in
the core's tests or beside its plugin."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

from retrikt_core.plugins import get_plugins
from retrikt_core.testing.store_contract import StoreContract
from retrikt_core.testing.student_contract import StudentContract
from retrikt_core.testing.teacher_contract import TeacherContract

ROOT = Path(__file__).resolve().parents[2]
TEST_DIRS = ("tests/**", "plugins/*/tests/**", "examples/*/tests")


def shipped_plugins() -> set[str]:
    """`builtin`, the entry points of the packages under plugins/, and the example."""
    names = {"builtin", "lexicon"}
    for pyproject in ROOT.glob("plugins/*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        names |= set(project.get("entry-points", {}).get("retrikt", {}))
    return names


def contract_runs(contract: type) -> list[type]:
    """The classes named ``Test*`` that run ``contract`` in any test module of
    the checkout (each module loaded under a private name)."""
    runs = []
    for pattern in TEST_DIRS:
        for path in sorted(ROOT.glob(f"{pattern}/test_*.py")):
            if contract.__name__ not in path.read_text():
                continue
            name = f"_contract_{path.parent.parent.name}_{path.stem}"
            module = sys.modules.get(name)
            if module is None:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # dataclasses look their module up
                spec.loader.exec_module(module)
            runs += [
                cls
                for name, cls in vars(module).items()
                if name.startswith("Test") and isinstance(cls, type) and issubclass(cls, contract)
            ]
    return runs


def _installed(run) -> bool:
    return not any(m.name == "skipif" and m.args[0] for m in getattr(run, "pytestmark", []))


@pytest.mark.parametrize(
    ("kind", "contract", "make"),
    [
        ("teacher", TeacherContract, "make_teacher"),
        ("student", StudentContract, "make_student"),
        ("store", StoreContract, "make_store"),
    ],
)
def test_every_shipped_component_runs_its_contract(kind, contract, make, tmp_path):
    covered = {
        getattr(run(), make)(tmp_path).name for run in contract_runs(contract) if _installed(run)
    }
    registry = get_plugins().registry
    shipped = {e.name for e in registry.entries(kind) if e.plugin in shipped_plugins()}
    # A baseline student (SetFit) neither learns from knowledge nor retrieves:
    # the retrieving contract does not apply; its own tests are beside it.
    shipped = {n for n in shipped if getattr(registry.get(kind, n), "learns_from_knowledge", True)}
    assert shipped <= covered, f"{kind}s without a contract run: {shipped - covered}"
