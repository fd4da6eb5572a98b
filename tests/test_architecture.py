"""The import rules of docs/architecture.md hold in the code: each core
package imports only what its row of the page's table allows, the core never
imports a plugin, plugins import only the public API, and nothing imports the
CLI."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "retrikt_core"
PAGE = ROOT / "docs" / "architecture.md"
PLUGIN_SOURCES = [
    p for pattern in ("plugins/*/retrikt_*", "examples/*/retrikt_*") for p in ROOT.glob(pattern)
]
PUBLIC = {"retrikt_core", "retrikt_core.api"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in a Python file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def core_package(module: str) -> str | None:
    """The top-level unit of ``retrikt_core`` a module belongs to (``pipeline``
    for ``retrikt_core.pipeline.runner``), ``retrikt_core`` for the package
    itself, or None outside the core."""
    parts = module.split(".")
    if parts[0] != "retrikt_core":
        return None
    return parts[1] if len(parts) > 1 else "retrikt_core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def allowed_imports(page: str) -> dict[str, set[str]]:
    """The page's table: package -> the core packages it may import."""
    rules = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        rules[cells[0].strip("`")] = set(re.findall(r"`([\w.]+)`", cells[1]))
    return rules


RULES = allowed_imports(PAGE.read_text(encoding="utf-8"))


def core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.name != "__init__.py" or p.parent != CORE)


def test_the_page_has_a_row_for_every_core_package():
    packages = {core_package(module_name(p)) for p in core_files()}
    assert packages - {"retrikt_core"} <= set(RULES), "packages missing from the page"
    assert len(RULES) >= 15


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_follow_the_page(path):
    own = core_package(module_name(path))
    for line, module in imported_modules(path):
        if module.split(".")[0].startswith("retrikt_") and module.split(".")[0] != "retrikt_core":
            pytest.fail(f"{path.name}:{line} imports the plugin {module} (the core never does)")
        target = core_package(module)
        if target is None or target == own:
            continue
        assert target in RULES[own], (
            f"{path.relative_to(ROOT)}:{line} imports {module}; docs/architecture.md allows "
            f"{own} to import only {', '.join(sorted(RULES[own])) or 'nothing'}"
        )


def plugin_files() -> list[Path]:
    return sorted(p for source in PLUGIN_SOURCES for p in source.rglob("*.py"))


@pytest.mark.parametrize("path", plugin_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path):
    for line, module in imported_modules(path):
        if core_package(module) is not None:
            assert module in PUBLIC, (
                f"{path.relative_to(ROOT)}:{line} imports {module}; plugins import only "
                "retrikt_core.api (and retrikt_core)"
            )


def test_nothing_imports_the_cli():
    sources = [*core_files(), *plugin_files(), *sorted((ROOT / "benchmarks").glob("*.py"))]
    for path in sources:
        if core_package(module_name(path)) == "cli":
            continue
        for line, module in imported_modules(path):
            assert core_package(module) != "cli", (
                f"{path.relative_to(ROOT)}:{line} imports {module}"
            )


def test_the_checks_see_a_violation(tmp_path):
    """The rules are not vacuous: a plugin importing a core internal, and a
    core package importing one it may not, are both caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from retrikt_core.pipeline import Pipeline\nimport retrikt_students\n")
    modules = [m for _, m in imported_modules(bad)]
    assert [m for m in modules if core_package(m) is not None and m not in PUBLIC]
    assert "pipeline" not in RULES["storekit"]
    assert "cli" not in set().union(*RULES.values())
