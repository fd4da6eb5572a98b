"""Plugin options: dataclass fields with help and ranges, checked against
their type hints when a config is validated. Errors name ``section.key`` and
list what is allowed."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import field
from typing import Any

from retrikt_core.errors import ConfigError, OptionError


def option(
    default: Any,
    help: str = "",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A dataclass field with help text (shown by ``retrikt config schema``) and,
    for numbers, an allowed range checked when the config is validated."""
    metadata = {"help": help, "minimum": minimum, "maximum": maximum}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def build_options(section: str, cls: type, values: dict[str, Any]) -> Any:
    """Check ``values`` against the dataclass ``cls`` and build it."""
    fields_by_name = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields_by_name:
            allowed = [n for n in fields_by_name] or ["(none)"]
            raise ConfigError(unknown_message(f"{section}.{key}", "option", key, allowed))
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = check_type(f"{section}.{key}", value, hints[key])
        check_range(f"{section}.{key}", kwargs[key], fields_by_name[key].metadata)
    missing = [
        f.name
        for f in fields_by_name.values()
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{section}.{missing[0]}: required option is missing")
    try:
        return cls(**kwargs)
    except OptionError as exc:
        raise ConfigError(f"{section}.{exc.field}: {exc}") from None


def check_range(where: str, value: Any, metadata: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if not math.isfinite(value):  # NaN passes every comparison below
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        # numpy and torch take sizes and counts as 64-bit integers.
        raise ConfigError(f"{where}: must fit in 64 bits, got {value!r}")
    low, high = metadata.get("minimum"), metadata.get("maximum")
    if low is not None and value < low:
        raise ConfigError(f"{where}: must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{where}: must be <= {high}, got {value!r}")


def unknown_message(where: str, what: str, key: str, allowed: list[str]) -> str:
    message = f"{where}: unknown {what}; allowed: {', '.join(allowed)}"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        message += f". Did you mean {close[0]!r}?"
    return message


def check_type(where: str, value: Any, annotation: Any) -> Any:
    """Validate (and lightly coerce: int -> float) a config value against a type hint."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None) and value is None:
                return None
            try:
                return check_type(where, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(annotation)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(
                f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return type(value)(check_type(f"{where}[{i}]", v, inner) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is not None:  # list[str], str | None, ...
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", None) or str(annotation)


def option_docs(cls: type) -> list[dict[str, Any]]:
    """Name, type, default of each option of ``cls`` (for docs and schema output)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        rows.append(
            {
                "name": f.name,
                "type": _type_name(hints[f.name]),
                "default": default,
                "required": f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                "help": f.metadata.get("help", ""),
                "minimum": f.metadata.get("minimum"),
                "maximum": f.metadata.get("maximum"),
            }
        )
    return rows
