"""Reading a config file and applying ``--set section.key=value`` overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from retrikt_core.errors import ConfigError


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is dropped.
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1]
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}: {byte!r}); TOML files are UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` -> (section, key, value); the value is read as a TOML
    value (numbers, booleans, lists, quoted strings) and otherwise kept as text."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    target, raw = text.split("=", 1)
    if target.count(".") != 1:
        raise ConfigError(f"--set {text!r}: expected section.key=value, got key {target!r}")
    section, key = (part.strip() for part in target.split("."))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    merged = {s: dict(v) if isinstance(v, dict) else v for s, v in raw.items()}
    for text in overrides:
        section, key, value = parse_override(text)
        merged.setdefault(section, {})[key] = value
    return merged
