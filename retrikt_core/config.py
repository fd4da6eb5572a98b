"""TOML run configs, validated against the options each plugin declares.

A config has one section per component kind (``plugin = "name"`` plus that
plugin's options) and a few core sections (``run``, ``extract``,
``evaluate``). Everything is checked before any work starts; an error names
``section.key`` and lists what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retrikt_core.registry import Registry, UnknownComponentError


class ConfigError(ValueError):
    """A config problem, with the offending ``section.key`` in the message."""


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


class OptionError(ValueError):
    """Raised by an options dataclass's ``__post_init__`` for a value its
    fields' types cannot rule out (say, heads that do not divide a width);
    validation reports it as ``section.field: message``."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass
class RunOptions:
    """``[run]``: where the run lives and its seed."""

    seed: int = option(0, "seed for k-shot sampling, training and generation")
    run_dir: str = option("runs/default", "where the run writes (CLI --run-dir overrides)")


@dataclass
class ExtractOptions:
    """``[extract]``: how much knowledge to gather and what to drop."""

    n_per_label: int = option(200, "entries asked of a conditional generator per label")
    n_total: int = option(
        0, "entries asked of an unconditional source (corpus); 0 = n_per_label x labels"
    )
    second_source_share: float = option(
        0.5,
        "with a [second_source]: its share of the entries asked for (n_total, or "
        "n_per_label x labels); the rest come from [generator]",
        minimum=0.0,
        maximum=1.0,
    )
    drop_duplicates: bool = option(True, "drop entries whose normalised text repeats")
    drop_eval_overlap: bool = option(True, "drop entries that repeat an eval example")
    eval_near_duplicate: float = option(
        0.8,
        "also drop entries whose word-set Jaccard, or word-trigram containment, with an "
        "eval text reaches this; 0 = exact repeats only",
        minimum=0.0,
        maximum=1.0,
    )
    min_words: int = option(3, "drop entries with fewer words (degenerate, as in the reward)")
    max_words: int = option(128, "drop entries with more words")
    teacher_batch_size: int = option(32, "batch size when the teacher labels entries")


@dataclass
class EvaluateOptions:
    """``[evaluate]``: which methods to compare and how to time them."""

    methods: list[str] = option(
        ["teacher", "kshot_student", "kd_student", "retrikt_student"], "methods to compare"
    )
    batch_size: int = option(32, "batch size for timing and prediction")


@dataclass
class RewardOptions:
    """``[reward]``: the terms of the RL reward and their weights."""

    weights: dict[str, float] = option(
        {"quality": 1.0, "diversity": 0.5, "degenerate": 1.0}, "reward term -> weight"
    )
    memory: int = option(256, "recently scored samples the diversity term compares against")


CORE_SECTIONS: dict[str, type] = {
    "run": RunOptions,
    "extract": ExtractOptions,
    "evaluate": EvaluateOptions,
    "reward": RewardOptions,
}
COMPONENT_SECTIONS: tuple[str, ...] = (
    "task",
    "generator",
    "teacher",
    "optimizer",
    "store",
    "retriever",
    "student",
)
# Optional component sections, and the component kind each one holds.
OPTIONAL_SECTIONS: dict[str, str] = {
    # A second store over the same knowledge (say bm25 beside faiss), for
    # retrievers that fuse two rankings such as ``hybrid``.
    "second_store": "store",
    # A second knowledge source mixed into the same store (say a corpus of
    # real unlabelled text beside the LLM's generations).
    "second_source": "generator",
}


def section_kind(section: str) -> str:
    """The component kind a section holds (``second_store`` holds a store)."""
    return OPTIONAL_SECTIONS.get(section, section)


METHODS = ("teacher", "kshot_student", "kd_student", "retrikt_student")


@dataclass
class RunConfig:
    """A validated config: options per core section, and per component section
    the plugin name and its validated options."""

    run: RunOptions
    extract: ExtractOptions
    evaluate: EvaluateOptions
    reward: RewardOptions
    components: dict[str, tuple[str, Any]]
    source: str = ""

    def plugin(self, section: str) -> str:
        return self.components[section][0]

    def has(self, section: str) -> bool:
        """Whether a component section is configured (optional ones may not be)."""
        return section in self.components

    def options(self, section: str) -> Any:
        return self.components[section][1]

    def section_dict(self, section: str) -> dict[str, Any] | None:
        """The section as resolved (defaults filled in), for hashing and display;
        ``None`` for an optional section that is not configured."""
        if section in CORE_SECTIONS:
            return asdict(getattr(self, section))
        if section not in self.components:
            return None
        name, options = self.components[section]
        return {"plugin": name, **asdict(options)}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        sections = list(CORE_SECTIONS) + list(COMPONENT_SECTIONS) + list(OPTIONAL_SECTIONS)
        return {s: self.section_dict(s) for s in sections if self.section_dict(s) is not None}

    def section_hash(self, *sections: str) -> str:
        return stable_hash({s: self.section_dict(s) for s in sections})

    def config_hash(self) -> str:
        resolved = self.to_dict()
        resolved["run"].pop("run_dir")  # where a run lives is not what it computes
        return stable_hash(resolved)


def stable_hash(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return tomllib.loads(path.read_text())
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


def validate(raw: dict[str, Any], registry: Registry, source: str = "") -> RunConfig:
    """Turn a raw TOML mapping into a :class:`RunConfig`, or raise ConfigError."""
    known = list(CORE_SECTIONS) + list(COMPONENT_SECTIONS) + list(OPTIONAL_SECTIONS)
    for section, value in raw.items():
        if section not in known:
            raise ConfigError(_unknown(f"[{section}]", "section", section, known))
        if not isinstance(value, dict):
            raise ConfigError(f"{section}: expected a [{section}] table, got {value!r}")
    core = {
        name: build_options(name, cls, raw.get(name, {})) for name, cls in CORE_SECTIONS.items()
    }
    components: dict[str, tuple[str, Any]] = {}
    wanted = [(s, s) for s in COMPONENT_SECTIONS]
    wanted += [(s, kind) for s, kind in OPTIONAL_SECTIONS.items() if s in raw]
    for section, kind in wanted:
        values = dict(raw.get(section, {}))
        name = values.pop("plugin", None)
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
    return RunConfig(components=components, source=source, **core)


def build_options(section: str, cls: type, values: dict[str, Any]) -> Any:
    """Check ``values`` against the dataclass ``cls`` and build it."""
    fields_by_name = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields_by_name:
            allowed = [n for n in fields_by_name] or ["(none)"]
            raise ConfigError(_unknown(f"{section}.{key}", "option", key, allowed))
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = check_type(f"{section}.{key}", value, hints[key])
        _check_range(f"{section}.{key}", kwargs[key], fields_by_name[key].metadata)
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


def _check_range(where: str, value: Any, metadata: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    low, high = metadata.get("minimum"), metadata.get("maximum")
    if low is not None and value < low:
        raise ConfigError(f"{where}: must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{where}: must be <= {high}, got {value!r}")


def _unknown(where: str, what: str, key: str, allowed: list[str]) -> str:
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
