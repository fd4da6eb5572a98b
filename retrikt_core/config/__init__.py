"""TOML run configs, validated against the options each plugin declares.

A config has one section per component kind (``plugin = "name"`` plus that
plugin's options) and a few core sections (``run``, ``extract``,
``evaluate``, ``reward``). Everything is checked before any work starts; an
error names ``section.key`` and lists what is allowed.
"""

from retrikt_core.config.files import apply_overrides, load_toml, parse_override
from retrikt_core.config.options import build_options, check_type, option, option_docs
from retrikt_core.config.run_config import RunConfig, stable_hash
from retrikt_core.config.sections import (
    COMPONENT_SECTIONS,
    CORE_SECTIONS,
    METHODS,
    OPTIONAL_SECTIONS,
    EvaluateOptions,
    ExtractOptions,
    RewardOptions,
    RunOptions,
    section_kind,
)
from retrikt_core.config.validation import validate
from retrikt_core.errors import ConfigError, OptionError

__all__ = [
    "COMPONENT_SECTIONS",
    "CORE_SECTIONS",
    "METHODS",
    "OPTIONAL_SECTIONS",
    "ConfigError",
    "EvaluateOptions",
    "ExtractOptions",
    "OptionError",
    "RewardOptions",
    "RunConfig",
    "RunOptions",
    "apply_overrides",
    "build_options",
    "check_type",
    "load_toml",
    "option",
    "option_docs",
    "parse_override",
    "section_kind",
    "stable_hash",
    "validate",
]
