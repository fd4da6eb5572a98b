"""Plugins: the pluggy hook specifications, the manager that loads the
``retrikt`` entry-point group, and the registry of components by kind and name.

Every component reaches the core this way, including the ones retrikt-core
ships (entry point ``builtin``).
"""

from retrikt_core.errors import UnknownComponentError
from retrikt_core.plugins.hookspecs import hookimpl
from retrikt_core.plugins.manager import (
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    PluginInfo,
    Plugins,
    allowed_from_env,
    get_plugins,
    reset_plugins,
)
from retrikt_core.plugins.registry import KIND_HOOKS, Entry, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "KIND_HOOKS",
    "LOAD_ENV",
    "Entry",
    "PluginInfo",
    "Plugins",
    "Registry",
    "UnknownComponentError",
    "allowed_from_env",
    "get_plugins",
    "hookimpl",
    "reset_plugins",
]
