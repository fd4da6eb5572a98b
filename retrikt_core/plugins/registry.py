"""Name -> component class lookups, per component kind, with errors that help."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from retrikt_core.errors import UnknownComponentError

# Component kind -> the hook that registers it; the order is the order of a run.
KIND_HOOKS: dict[str, str] = {
    "task": "register_tasks",
    "generator": "register_generators",
    "teacher": "register_teachers",
    "optimizer": "register_optimizers",
    "store": "register_stores",
    "retriever": "register_retrievers",
    "student": "register_students",
    "reward": "register_reward_terms",
    "executor": "register_executors",
}


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    cls: type
    plugin: str
    package: str


class Registry:
    """Holds every registered component class, keyed by kind and name."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KIND_HOOKS}

    def add(self, kind: str, cls: type, plugin: str, package: str) -> None:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls!r} registered as a {kind} has no `name` class attribute")
        existing = self._entries[kind].get(name)
        if existing is not None and existing.cls is not cls:
            raise ValueError(
                f"{kind} {name!r} is registered twice: by {existing.package} "
                f"({existing.plugin}) and by {package} ({plugin})"
            )
        self._entries[kind][name] = Entry(kind, name, cls, plugin, package)

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> list[Entry]:
        return [self._entries[kind][n] for n in self.names(kind)]

    def entry(self, kind: str, name: str) -> Entry:
        if kind not in self._entries:
            raise UnknownComponentError(
                f"unknown component kind {kind!r}; kinds: {', '.join(KIND_HOOKS)}"
            )
        try:
            return self._entries[kind][name]
        except KeyError:
            raise UnknownComponentError(self._unknown_message(kind, name)) from None

    def get(self, kind: str, name: str) -> type:
        return self.entry(kind, name).cls

    def _unknown_message(self, kind: str, name: str) -> str:
        available = self.entries(kind)
        if available:
            listing = ", ".join(f"{e.name} ({e.package})" for e in available)
        else:
            listing = "none; is the plugin that provides it installed?"
        message = f"unknown {kind} {name!r}; available {kind}s: {listing}"
        close = difflib.get_close_matches(name, [e.name for e in available], n=1)
        if close:
            message += f". Did you mean {close[0]!r}?"
        return message
