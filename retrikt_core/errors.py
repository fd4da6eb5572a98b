"""Every error a user can cause, under one base class.

The CLI turns a :class:`RetriktError` into ``error: <message>`` and exit 2; any
other exception is a bug in retrikt or a plugin and stays a traceback. Each
class also derives from the built-in exception it refines (``ValueError``,
``LookupError``, ``RuntimeError``), so code that caught those keeps working.
"""

from __future__ import annotations


class RetriktError(Exception):
    """Base of every error caused by input: a config, a data file, a run
    directory, a store or a bundle. The message names what is wrong and where."""


class ConfigError(RetriktError, ValueError):
    """A config problem, with the offending ``section.key`` in the message."""


class OptionError(RetriktError, ValueError):
    """Raised by an options dataclass's ``__post_init__`` for a value its
    fields' types cannot rule out (say, heads that do not divide a width);
    validation reports it as ``section.field: message``."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class UnknownComponentError(RetriktError, LookupError):
    """Raised for a component name that no loaded plugin provides."""


class TaskDataError(RetriktError, ValueError):
    """Task data that cannot be read as configured (names the file and field)."""


class StoreFileError(RetriktError, ValueError):
    """A saved store whose files are missing, truncated or do not match."""


class BundleError(RetriktError, ValueError):
    """A bundle that cannot be loaded: a missing, truncated or mismatched file,
    or a manifest that is not a retrikt bundle's."""


class PipelineError(RetriktError, RuntimeError):
    """A run that cannot go on (a missing upstream stage, a locked run dir, ...)."""


class ArtifactError(RetriktError, FileNotFoundError):
    """A saved artifact that is not there: a run directory without the stage
    asked of it, or a folder that is not a saved component."""


class InputError(RetriktError, ValueError):
    """Inputs to predict with that cannot be read (names the input and field)."""


__all__ = [
    "ArtifactError",
    "BundleError",
    "InputError",
    "ConfigError",
    "OptionError",
    "PipelineError",
    "RetriktError",
    "StoreFileError",
    "TaskDataError",
    "UnknownComponentError",
]
