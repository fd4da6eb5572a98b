"""Keep the console examples of docs/cli.md true to the installed CLI.

Each ``$ retrikt ...`` line of a ```` ```console ```` block is a command and
the lines under it, up to the next ``$`` line, its output. The commands that
stand alone (help, ``--version``, ``plugins``, ``config``, and the ones that
end in an ``error:`` before any run directory is read) are run again from the
repository root with ``COLUMNS=100`` and compared with the page, or written
over it with ``--write``. Commands that read a finished run, a bundle, or a
file the page builds by hand are left as they are.

An output that ends in ``... (trimmed: N lines in all)`` is an excerpt: its
lines are compared with the start of the output, and ``--write`` keeps as
many lines and updates N.

    .venv/bin/python docs/cli_page.py           # lists stale commands; exit 1 if any
    .venv/bin/python docs/cli_page.py --write   # rewrites their outputs (make docs)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
TRIMMED = re.compile(r"^(\s*)\.\.\. \(trimmed: (\d+) lines in all(.*)\)$")
ENVIRONMENT = re.compile(r"^[A-Z_]+=\S*$")  # a VAR=value before the command
# Arguments that name things no clean checkout has: runs, bundles, and the
# files the page writes by hand before using them.
NEEDS_FILES = re.compile(r"\bruns\b|bundle|cola|broken\.csv|inputs\.jsonl")


@dataclass
class Command:
    """One ``$`` line of a console block and the output below it; ``start``
    and ``end`` index the page's lines of the output (``end`` excluded,
    trailing blank lines not included)."""

    command: str
    output: list[str]
    start: int
    end: int

    @property
    def trimmed(self) -> re.Match[str] | None:
        return TRIMMED.match(self.output[-1]) if self.output else None

    @property
    def stands_alone(self) -> bool:
        """Whether the command needs nothing but the checkout and the
        installed plugins, so its output can be produced anywhere."""
        words = self.command.split()
        while words and ENVIRONMENT.match(words[0]):
            words = words[1:]
        if words[:1] != ["retrikt"] or len(words) < 2 or NEEDS_FILES.search(self.command):
            return False
        # A pipe into a program this machine lacks (jq) cannot be checked here.
        piped = [part.split()[0] for part in self.command.split("|")[1:] if part.split()]
        if any(shutil.which(program) is None for program in piped):
            return False
        if {"--help", "-h", "--version", "-V"} & set(words) or words[1] in ("plugins", "config"):
            return True
        return any(line.startswith("error:") for line in self.output)


def commands(lines: list[str]) -> list[Command]:
    """Every command of every console block of a page's ``lines``."""
    found: list[Command] = []
    in_block = False
    current: Command | None = None

    def close(end: int) -> None:
        if current is None:
            return
        while end > current.start and not lines[end - 1].strip():
            end -= 1
        current.end = end
        current.output = lines[current.start : end]
        found.append(current)

    for i, line in enumerate(lines):
        if not in_block:
            in_block = line.strip() == "```console"
            continue
        if line.strip() == "```":
            close(i)
            in_block, current = False, None
        elif line.startswith("$ "):
            close(i)
            current = Command(line[2:].strip(), [], i + 1, i + 1)
    if in_block:  # a block left open runs to the end of the page
        close(len(lines))
    return found


def output(command: str) -> str:
    """What a shell command line prints (stdout and stderr together), run
    from the repository root as the docs' console blocks are: this Python's
    ``retrikt`` first on the PATH, ``COLUMNS=100``, no progress bars."""
    env = dict(os.environ, COLUMNS="100", RETRIKT_PROGRESS="0")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    return done.stdout


def run(command: str) -> list[str]:
    """The command's output as the page shows it: trailing spaces and
    leading and trailing blank lines dropped."""
    return strip_blank([line.rstrip() for line in output(command).splitlines()])


def strip_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def expected(command: Command, actual: list[str]) -> list[str]:
    """What the page should show for ``command`` given its ``actual``
    output: all of it, or as many lines as its excerpt and the marker."""
    marker = command.trimmed
    if marker is None:
        return actual
    shown = len(command.output) - 1
    # The excerpt ends at the line it ended at before, found again nearest
    # its old place, so lines added above it do not cut it short.
    last = command.output[shown - 1].rstrip() if shown else None
    ends = [i + 1 for i, line in enumerate(actual) if line == last]
    if ends:
        shown = min(ends, key=lambda end: abs(end - shown))
    indent, _, rest = marker.groups()
    return actual[:shown] + [f"{indent}... (trimmed: {len(actual)} lines in all{rest})"]


def stale(lines: list[str]) -> list[tuple[Command, list[str]]]:
    """The standalone commands whose output on the page differs from what
    they print now, each with what it prints now (excerpted like the page)."""
    out = []
    for command in commands(lines):
        if not command.stands_alone:
            continue
        want = expected(command, run(command.command))
        if [line.rstrip() for line in strip_blank(command.output)] != want:
            out.append((command, want))
    return out


def rewrite(lines: list[str], changes: list[tuple[Command, list[str]]]) -> list[str]:
    """``lines`` with each command's output replaced (last first, so the
    earlier indexes stay valid)."""
    lines = list(lines)
    for command, want in sorted(changes, key=lambda change: -change[0].start):
        lines[command.start : command.end] = want
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the stale outputs")
    parser.add_argument("--page", type=Path, default=PAGE)
    args = parser.parse_args()
    lines = args.page.read_text().splitlines()
    changes = stale(lines)
    for command, _ in changes:
        print(f"{args.page}:{command.start}: $ {command.command}")
    if args.write and changes:
        args.page.write_text("\n".join(rewrite(lines, changes)) + "\n")
        print(f"rewrote {len(changes)} outputs")
    elif changes:
        sys.exit(1)


if __name__ == "__main__":
    main()
