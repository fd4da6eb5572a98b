"""The plugin manager: loads the ``retrikt`` entry-point group into pluggy.

Every component reaches the core this way, including the ones retrikt-core
ships (entry point ``builtin``). ``RETRIKT_LOAD_PLUGINS`` restricts loading to
a comma-separated list of entry-point names; set it to an empty string to load
none. A plugin that fails to import or to register is recorded with its error
and never breaks the CLI.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from retrikt_core.plugins import hookspecs
from retrikt_core.plugins.registry import KIND_HOOKS, Registry

ENTRY_POINT_GROUP = "retrikt"
LOAD_ENV = "RETRIKT_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    """What ``retrikt plugins --json`` reports for one plugin."""

    name: str
    package: str
    version: str
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "components": self.components,
            "error": self.error,
        }


class Plugins:
    """A loaded set of plugins: the pluggy manager, the registry, and what each plugin gave."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("retrikt")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}

    @property
    def hook(self):
        return self.pm.hook

    def load_entry_points(self, allowed: set[str] | None = None) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            if ep.name in self.infos:
                continue
            dist = ep.dist
            package = dist.name if dist else ep.value.split(":")[0]
            version = dist.version if dist else "unknown"
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the CLI
                self.infos[ep.name] = PluginInfo(ep.name, package, version, error=_describe(exc))
                continue
            self.register(module, ep.name, package=package, version=version)

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        package: str | None = None,
        version: str = "unknown",
    ) -> PluginInfo:
        """Register a plugin object (a module with hookimpls) and its components."""
        info = PluginInfo(name, package or name, version)
        self.infos[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            info.error = _describe(exc)
            return info
        for kind, hook_name in KIND_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                names: list[str] = []

                def register_component(cls: type, _kind=kind, _names=names) -> None:
                    self.registry.add(_kind, cls, plugin=name, package=info.package)
                    _names.append(cls.name)

                try:
                    impl.function(register=register_component)
                except Exception as exc:
                    info.error = _describe(exc)
                if names:
                    info.components[kind] = sorted(names)
        return info

    def list(self) -> list[PluginInfo]:
        return [self.infos[n] for n in sorted(self.infos)]


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def allowed_from_env() -> set[str] | None:
    value = os.environ.get(LOAD_ENV)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


_loaded: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin set, loaded on first use."""
    global _loaded
    if _loaded is None:
        plugins = Plugins()
        plugins.load_entry_points(allowed_from_env())
        _loaded = plugins
    return _loaded


def reset_plugins() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin in-process)."""
    global _loaded
    _loaded = None
