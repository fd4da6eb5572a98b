"""Checks a run makes before any stage: those that need no model. Each
component words its own errors (a task names its files, a source its
options, a student what it needs of the teacher); this module only asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrikt_core.config.sections import BASELINE_METHOD
from retrikt_core.errors import ConfigError
from retrikt_core.interfaces import Student
from retrikt_core.pipeline.stage import SOURCE_SECTIONS
from retrikt_core.pipeline.stages.extract import requests

if TYPE_CHECKING:
    from retrikt_core.pipeline.runner import Pipeline


def preflight(pipeline: Pipeline) -> None:
    """The task's files and fields, the student against the teacher, and that
    each knowledge source can give what ``extract`` will ask of it."""
    check = getattr(pipeline.task, "check", None)
    if check is not None:
        check()
    check_student(pipeline)
    check_sources(pipeline)


def check_student(pipeline: Pipeline) -> None:
    config, registry = pipeline.config, pipeline.plugins.registry
    name, options = config.components["student"]
    teacher = registry.get("teacher", config.plugin("teacher"))
    student = registry.get("student", name)(options)
    student.check_teacher(teacher)
    if not student.learns_from_knowledge:
        raise ConfigError(
            f"student.plugin: {name!r} learns from the k-shot examples only; name it in "
            f"[baseline] and list {BASELINE_METHOD} in evaluate.methods"
        )
    checked(student, "student")
    if config.has("baseline") and BASELINE_METHOD in config.evaluate.methods:
        name, options = config.components["baseline"]
        checked(registry.get("student", name)(options), "baseline")


def checked(student: Student, section: str) -> None:
    """A student's own checks, its errors named by the section it is in
    (students name their options ``student.*``)."""
    try:
        student.check()
    except ConfigError as exc:
        message = str(exc)
        if message.startswith("student.") or message.startswith("student:"):
            message = section + message[len("student") :]
        elif section != "student":
            message = f"{section}: {message}"
        raise ConfigError(message) from None


def check_sources(pipeline: Pipeline) -> None:
    config, registry = pipeline.config, pipeline.plugins.registry
    asked: dict[str, int] = {}
    for section, _, n in requests(config, pipeline.task, pipeline.plugins):
        asked[section] = asked.get(section, 0) + n
    for section in SOURCE_SECTIONS:
        if not config.has(section):
            continue
        name, options = config.components[section]
        source = registry.get("generator", name)(options)
        try:
            # A source asked for nothing is still fitted and fingerprinted.
            source.check(pipeline.task, asked.get(section, 0))
            source.fingerprint()
        except ConfigError as exc:
            # Sources name their options as `generator.*`; say which section.
            message = str(exc)
            if section != "generator" and message.startswith("generator."):
                message = section + message[len("generator") :]
            raise ConfigError(message) from None
