"""Turning a raw TOML mapping into a :class:`RunConfig`: every section, plugin
name and option checked before any work starts."""

from __future__ import annotations

from typing import Any

from retrikt_core.config.options import build_options, check_range, check_type, unknown_message
from retrikt_core.config.run_config import RunConfig
from retrikt_core.config.sections import (
    BASELINE_METHOD,
    COMPONENT_SECTIONS,
    CORE_SECTIONS,
    DEFAULT_PLUGINS,
    METHODS,
    OPTIONAL_SECTIONS,
)
from retrikt_core.errors import ConfigError, UnknownComponentError
from retrikt_core.plugins.registry import Registry


def validate(raw: dict[str, Any], registry: Registry, source: str = "") -> RunConfig:
    """Turn a raw TOML mapping into a :class:`RunConfig`, or raise ConfigError."""
    known = list(CORE_SECTIONS) + list(COMPONENT_SECTIONS) + list(OPTIONAL_SECTIONS)
    for section, value in raw.items():
        if section not in known:
            raise ConfigError(unknown_message(f"[{section}]", "section", section, known))
        if not isinstance(value, dict):
            raise ConfigError(f"{section}: expected a [{section}] table, got {value!r}")
    core = {
        name: build_options(name, cls, raw.get(name, {})) for name, cls in CORE_SECTIONS.items()
    }
    components: dict[str, tuple[str, Any]] = {}
    wanted = [(s, s) for s in COMPONENT_SECTIONS]
    wanted += [(s, kind) for s, kind in OPTIONAL_SECTIONS.items() if s in raw]
    if BASELINE_METHOD in core["evaluate"].methods and "baseline" not in raw:
        wanted.append(("baseline", "student"))
    for section, kind in wanted:
        values = dict(raw.get(section, {}))
        name = values.pop("plugin", DEFAULT_PLUGINS.get(section))
        if name is None:
            raise ConfigError(f"{section}.plugin: required; name the {kind} plugin to use")
        if not isinstance(name, str):
            raise ConfigError(f"{section}.plugin: expected a string, got {name!r}")
        try:
            cls = registry.get(kind, name)
        except UnknownComponentError as exc:
            raise ConfigError(f"{section}.plugin: {exc}") from None
        components[section] = (name, build_options(section, cls.Options, values))
    for method in core["evaluate"].methods:
        if method not in METHODS:
            raise ConfigError(
                f"evaluate.methods: unknown method {method!r}; allowed: {', '.join(METHODS)}"
            )
    for term, weight in core["reward"].weights.items():
        try:
            registry.get("reward", term)
        except UnknownComponentError as exc:
            raise ConfigError(f"reward.weights.{term}: {exc}") from None
        check_type(f"reward.weights.{term}", weight, float)
        check_range(f"reward.weights.{term}", weight, {})
    return RunConfig(components=components, source=source, **core)
