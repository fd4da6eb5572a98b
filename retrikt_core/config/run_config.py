"""A validated run config and its hashes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from retrikt_core.config.sections import (
    COMPONENT_SECTIONS,
    CORE_SECTIONS,
    OPTIONAL_SECTIONS,
    EvaluateOptions,
    ExtractOptions,
    RewardOptions,
    RunOptions,
)


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
        resolved.pop("executor", None)  # nor what computes it
        return stable_hash(resolved)


def stable_hash(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
