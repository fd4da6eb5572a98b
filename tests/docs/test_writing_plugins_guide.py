"""docs/writing-plugins.md builds the example plugin; it must not drift.

Every code block that starts with ``# file: PATH`` must be that file, and
every block that starts with ``# excerpt: PATH`` consecutive lines of it;
Python and TOML blocks must carry one of the two. Every ``console`` block
is run and its output compared, unless the line above it is an
``<!-- output not checked: ... -->`` note. The layout block must list the
example's files, and its run config must run.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrikt_core.config import apply_overrides, load_toml, validate
from retrikt_core.pipeline import Pipeline
from retrikt_core.plugins import get_plugins
from retrikt_core.testing.runs import write_sentiment_files

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-plugins.md"
EXAMPLE = ROOT / "examples" / "retrikt-plugin-example"
EXAMPLE_REL = EXAMPLE.relative_to(ROOT).as_posix()
MARKER = re.compile(r"^# (file|excerpt): (\S+)$")
UNCHECKED = "<!-- output not checked:"
NOT_SOURCE = {"__pycache__", ".pytest_cache"}


@dataclass
class Block:
    language: str
    lines: list[str]
    line: int  # 1-based line of the opening fence
    before: str  # the last non-blank line above the fence

    @property
    def marker(self) -> tuple[str, str] | None:
        match = MARKER.match(self.lines[0]) if self.lines else None
        return (match.group(1), match.group(2)) if match else None


def fenced_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            before = next((s for s in reversed(lines[:i]) if s.strip()), "")
            end = i + 1
            while not lines[end].startswith("```"):
                end += 1
            blocks.append(Block(lines[i][3:].strip(), lines[i + 1 : end], i + 1, before))
            i = end
        i += 1
    return blocks


def example_files() -> list[str]:
    """The example package's own files (no build or cache output), relative to it."""
    return sorted(
        p.relative_to(EXAMPLE).as_posix()
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and not any(part in NOT_SOURCE or part.endswith(".egg-info") for part in p.parts)
    )


BLOCKS = fenced_blocks(GUIDE.read_text())
QUOTES = [b for b in BLOCKS if b.marker]


def _id(block: Block) -> str:
    return f"line{block.line}"


def test_guide_has_quotes_commands_and_a_layout():
    assert len(QUOTES) >= 5
    assert any(b.language == "console" and not b.before.startswith(UNCHECKED) for b in BLOCKS)
    assert sum(1 for b in BLOCKS if b.lines and b.lines[0] == f"{EXAMPLE_REL}/") == 1


@pytest.mark.parametrize("block", QUOTES, ids=_id)
def test_quoted_code_is_the_file(block):
    kind, path = block.marker
    source = ROOT / path
    assert source.is_file(), f"line {block.line} quotes {path}, which does not exist"
    quoted = block.lines[1:]
    if kind == "file":
        expected = source.read_text()
        assert "\n".join(quoted) + "\n" == expected, (
            f"line {block.line}: the block is not the whole of {path}; copy the file again"
        )
    else:
        lines = source.read_text().splitlines()
        assert quoted, f"line {block.line}: empty excerpt of {path}"
        starts = [
            i for i in range(len(lines) - len(quoted) + 1) if lines[i : i + len(quoted)] == quoted
        ]
        assert starts, f"line {block.line}: the excerpt is not consecutive lines of {path}"


def test_python_and_toml_blocks_name_their_file():
    unlabelled = [b.line for b in BLOCKS if b.language in ("python", "toml") and not b.marker]
    assert not unlabelled, f"code blocks without '# file:' or '# excerpt:' at lines {unlabelled}"


def test_every_example_source_is_quoted_in_full():
    quoted = {b.marker[1] for b in QUOTES if b.marker[0] == "file"}
    sources = [f for f in example_files() if f.endswith((".py", ".toml"))]
    assert sources
    missing = [f for f in sources if f"{EXAMPLE_REL}/{f}" not in quoted]
    assert not missing, f"the guide does not show these example files: {missing}"


def test_layout_lists_the_example_files():
    (layout,) = [b for b in BLOCKS if b.lines and b.lines[0] == f"{EXAMPLE_REL}/"]
    listed = sorted(line.split()[0] for line in layout.lines[1:] if line.strip())
    assert listed == example_files()


def test_relative_links_exist():
    text = GUIDE.read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local
    missing = [link for link in local if not (GUIDE.parent / link).exists()]
    assert not missing, f"broken links: {missing}"


def console_commands() -> list[tuple[int, str, str]]:
    """(guide line, command, expected output) of every checked console block."""
    commands = []
    for block in BLOCKS:
        if block.language != "console" or block.before.startswith(UNCHECKED):
            continue
        current: list = []
        for offset, line in enumerate(block.lines, start=1):
            if line.startswith("$ "):
                current = [block.line + offset, line[2:], []]
                commands.append(current)
            else:
                assert current, f"line {block.line}: console output before any command"
                current[2].append(line)
    return [(line, command, "\n".join(out)) for line, command, out in commands]


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


COMMANDS = console_commands()


@pytest.mark.parametrize(
    ("line", "command", "expected"), COMMANDS, ids=[f"line{c[0]}" for c in COMMANDS]
)
def test_console_output_is_what_the_command_prints(cli_page, line, command, expected):
    printed = cli_page.output(command)
    assert _normalise(printed) == _normalise(expected), f"guide line {line}: {command}"


def test_the_installed_plugin_is_the_quoted_code():
    """`make setup` installs the example editable, so `retrikt` runs the very
    files the guide quotes; nothing here installs anything."""
    spec = importlib.util.find_spec("retrikt_lexicon")
    assert spec is not None, "retrikt-lexicon is not installed: run `make setup`"
    assert Path(spec.origin).resolve() == EXAMPLE / "retrikt_lexicon" / "__init__.py"
    info = get_plugins().infos["lexicon"]
    assert (info.package, info.components, info.error) == (
        "retrikt-lexicon",
        {"teacher": ["lexicon"]},
        None,
    )


def test_the_guide_run_config_runs_with_the_lexicon_teacher(tmp_path):
    """The example's SST-2 config, on a small CSV task instead of SST-2."""
    data = write_sentiment_files(tmp_path / "data")
    raw = apply_overrides(
        load_toml(EXAMPLE / "sst2-lexicon.toml"),
        [
            "task.plugin=files",
            f"task.train_file={json.dumps(str(data['train']))}",
            f"task.eval_file={json.dumps(str(data['eval']))}",
            'task.label_names=["negative", "positive"]',
            "task.k_shot=4",
            "extract.n_total=40",
        ],
    )
    plugins = get_plugins()
    config = validate(raw, plugins.registry)
    assert config.plugin("teacher") == "lexicon"
    metrics = Pipeline(config, plugins, tmp_path / "run").run()
    counts = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]
    assert counts["teacher"]["counts"] == {"params": 0, "words": 20}
    # Most of the tiny task's sentences hold one of the config's words.
    assert metrics["methods"]["teacher"]["accuracy"] >= 0.7
    assert set(metrics["methods"]) == {"teacher", "kd_student", "retrikt_student"}
