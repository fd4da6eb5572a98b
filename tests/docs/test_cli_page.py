"""docs/cli.md's console examples: the parser of docs/cli_page.py, and the
page itself against the installed CLI."""

from __future__ import annotations

PAGE = """Intro.

```console
$ retrikt --version
retrikt 0.0.0

$ retrikt predict runs/demo "a film"
positive (negative 0.1, positive 0.9)  a film
```

```bash
$ retrikt --version
```

```console
$ RETRIKT_LOAD_PLUGINS=builtin retrikt config schema
{
  "core": {
  ... (trimmed: 9 lines in all)
$ retrikt run examples/configs/nope.toml
error: examples/configs/nope.toml: config file not found
$ retrikt run examples/configs/sst2-retrikt.toml
▶ prepare   load the task, sample k-shot
```
""".splitlines()


def test_commands_are_read_from_console_blocks_only(cli_page):
    found = cli_page.commands(PAGE)
    assert [c.command for c in found] == [
        "retrikt --version",
        'retrikt predict runs/demo "a film"',
        "RETRIKT_LOAD_PLUGINS=builtin retrikt config schema",
        "retrikt run examples/configs/nope.toml",
        "retrikt run examples/configs/sst2-retrikt.toml",
    ]
    version = found[0]
    # The blank line before the next command is a separator, not output.
    assert version.output == ["retrikt 0.0.0"]
    assert PAGE[version.start : version.end] == version.output


def test_only_commands_that_need_no_run_stand_alone(cli_page):
    alone = {c.command: c.stands_alone for c in cli_page.commands(PAGE)}
    assert alone == {
        "retrikt --version": True,
        'retrikt predict runs/demo "a film"': False,  # reads a finished run
        "RETRIKT_LOAD_PLUGINS=builtin retrikt config schema": True,
        "retrikt run examples/configs/nope.toml": True,  # fails before any stage
        "retrikt run examples/configs/sst2-retrikt.toml": False,  # trains models
    }


def test_an_excerpt_keeps_its_last_line_and_counts_the_whole_output(cli_page):
    schema = cli_page.commands(PAGE)[2]
    assert schema.trimmed is not None
    actual = ["{", '  "added": 1,', '  "core": {', "    x", "  }", "}"]
    # A line added above the excerpt's end moves the end with it.
    assert cli_page.expected(schema, actual) == [
        "{",
        '  "added": 1,',
        '  "core": {',
        "  ... (trimmed: 6 lines in all)",
    ]
    whole = cli_page.commands(PAGE)[0]
    assert cli_page.expected(whole, ["retrikt 9.9"]) == ["retrikt 9.9"]


def test_a_stale_output_is_found_and_rewritten(cli_page):
    page = ["```console", "$ retrikt --version", "retrikt 0.0.0", "", "$ ls", "x", "```"]
    changes = cli_page.stale(page)
    assert [c.command for c, _ in changes] == ["retrikt --version"]
    ((_, now),) = changes
    assert now != ["retrikt 0.0.0"] and now[0].startswith("retrikt ")
    fixed = cli_page.rewrite(page, changes)
    assert fixed == ["```console", "$ retrikt --version", *now, "", "$ ls", "x", "```"]
    assert cli_page.stale(fixed) == []


def test_the_cli_page_matches_the_installed_cli(cli_page):
    changes = cli_page.stale(cli_page.PAGE.read_text().splitlines())
    stale = [f"docs/cli.md:{c.start}: $ {c.command}" for c, _ in changes]
    assert not stale, "stale outputs; run `make docs`:\n" + "\n".join(stale)
