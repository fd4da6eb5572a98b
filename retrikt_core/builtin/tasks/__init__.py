"""The tasks retrikt-core ships: ``files`` (any local files), the ``sst2``,
``rte`` and ``cb`` presets, and ``hub`` (a hub dataset)."""

from retrikt_core.builtin.tasks.files import FilesTask, FilesTaskOptions, describe_from_options
from retrikt_core.builtin.tasks.hub import HubTask, HubTaskOptions
from retrikt_core.builtin.tasks.presets import (
    CBTask,
    Preset,
    PresetOptions,
    PresetTask,
    RTETask,
    SST2Task,
)

TASKS = (FilesTask, SST2Task, RTETask, CBTask, HubTask)

__all__ = [
    "TASKS",
    "CBTask",
    "FilesTask",
    "FilesTaskOptions",
    "HubTask",
    "HubTaskOptions",
    "Preset",
    "PresetOptions",
    "PresetTask",
    "RTETask",
    "SST2Task",
    "describe_from_options",
]
