"""The contract every :class:`Teacher` passes, as a pytest base class.

A plugin's test module subclasses it and says how to build the teacher::

    from retrikt_core.testing.teacher_contract import TeacherContract

    class TestMyTeacher(TeacherContract):
        def make_teacher(self, tmp_path):
            return MyTeacher(MyTeacher.Options(size=8))

pytest then runs every ``test_*`` method below against that teacher, fitted
on a small synthetic three-label task (:func:`contract_task`,
:func:`contract_examples`): ``predict_proba`` gives ``[n][C]`` finite
probabilities whose rows sum to 1, for sentences and sentence pairs, for
any batch size (the empty batch too) and independently of how the inputs
are batched; the same seed gives the same teacher; ``fit`` returns stats the
manifest can hold; ``num_parameters`` is an int >= 0; a
``save_pretrained`` / ``from_pretrained`` round trip gives the same options,
count and probabilities; a teacher that implements the optional ``embed``
gives one finite row of one width per input, independently of batching and
the same after a save/load round trip;
and the options dataclass is documented and refuses
unknown keys, wrong types and the values listed in ``invalid_options`` with
an error that names ``teacher.<field>``.

The option checks live in :class:`OptionsContract`, which the student
contract (and any other kind's) reuses.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

import pytest

from retrikt_core.config import ConfigError, build_options
from retrikt_core.interfaces import COMPONENT_FILE, Component, Task, Teacher
from retrikt_core.records import Example

LABELS = ["negative", "neutral", "positive"]
# Words that carry each label, so that a model can learn something from the
# few examples; the suite checks shapes and invariants, not accuracy.
LABEL_WORDS = {
    0: ["dull", "bad", "boring", "weak", "flat", "awful"],
    1: ["plain", "average", "ordinary", "usual", "middling", "fair"],
    2: ["great", "fun", "warm", "sharp", "good", "lovely"],
}
_SUBJECTS = ["the film", "this story", "the cast", "the script", "its ending", "the music"]


def contract_task(pair: bool = False) -> Task:
    """A three-label task configured by options alone (no data files): what
    ``fit`` reads from a task (label names, verbalizers, ``is_pair``,
    description)."""
    from retrikt_core.builtin.tasks import FilesTask, FilesTaskOptions

    return FilesTask(
        FilesTaskOptions(
            label_names=list(LABELS),
            text_pair_field="hypothesis" if pair else "",
            description="sentiment",
        )
    )


def contract_sentence(rng: random.Random, label: int) -> str:
    a, b = rng.sample(LABEL_WORDS[label], 2)
    return f"{rng.choice(_SUBJECTS)} was {a} and {b}"


def contract_examples(
    n_per_label: int,
    *,
    seed: int = 0,
    pair: bool = False,
    prefix: str = "x",
    labelled: bool = True,
) -> list[Example]:
    """``n_per_label`` examples of each label, interleaved, with unique ids.
    Pairs get a second text that carries the same label."""
    rng = random.Random(seed)
    out = []
    for i in range(n_per_label * len(LABELS)):
        label = i % len(LABELS)
        out.append(
            Example(
                contract_sentence(rng, label),
                contract_sentence(rng, label) if pair else None,
                label if labelled else None,
                f"{prefix}{i}",
            )
        )
    return out


def contract_queries(pair: bool = False) -> list[Example]:
    """Unlabelled inputs: ordinary ones, a one-word text, text with no label
    word, and a long one (about 300 words) that must be cut, not refused."""
    rng = random.Random(99)
    queries = contract_examples(2, seed=7, pair=pair, prefix="q", labelled=False)
    long_text = " ".join(contract_sentence(rng, i % 3) for i in range(60))
    odd = [("fine", "ok"), ("a text with none of the words", "nor here"), (long_text, long_text)]
    for i, (text, second) in enumerate(odd):
        queries.append(Example(text, second if pair else None, None, f"odd{i}"))
    return queries


def assert_probability_rows(rows: Any, n: int, num_labels: int, *, where: str) -> None:
    """``rows`` is a ``[n][num_labels]`` list of finite Python floats in
    [0, 1] that sum to 1 (what the pipeline writes to JSON)."""
    assert isinstance(rows, list), f"{where}: expected a list of rows, got {type(rows).__name__}"
    assert len(rows) == n, f"{where}: {len(rows)} rows for {n} inputs"
    for i, row in enumerate(rows):
        assert isinstance(row, list) and len(row) == num_labels, (
            f"{where}: row {i} is {row!r}, expected {num_labels} probabilities"
        )
        for p in row:
            assert type(p) is float, f"{where}: row {i} holds {type(p).__name__}, not float"
            assert math.isfinite(p) and -1e-9 <= p <= 1 + 1e-9, f"{where}: row {i} is {row}"
        assert math.fsum(row) == pytest.approx(1.0, abs=1e-5), f"{where}: row {i} sums to {row}"
    json.dumps(rows)


def assert_close_rows(found: list[list[float]], expected: list[list[float]], atol: float) -> None:
    assert len(found) == len(expected)
    for i, (a, b) in enumerate(zip(found, expected, strict=True)):
        assert a == pytest.approx(b, abs=atol), f"row {i}: {a} != {b}"


def rows_differ(a: list[list[float]], b: list[list[float]], tol: float = 1e-6) -> bool:
    return any(
        abs(x - y) > tol for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)
    )


# Values of the wrong type for each annotation the config checks.
_WRONG_TYPE: dict[Any, Any] = {
    int: "three",
    float: "a lot",
    bool: "yes",
    str: 12,
    list: 12,
    tuple: 12,
    dict: "not a table",
}


def wrong_type_value(annotation: Any) -> Any:
    """A value the config validation must refuse for ``annotation``, or
    ``None`` where the annotation takes anything (``Any``, a table in a union)."""
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if any((typing.get_origin(a) or a) not in _WRONG_TYPE for a in members):
            return None
        if any((typing.get_origin(a) or a) is dict for a in members):
            return None
        return {"a table": 1}  # refused by every scalar and list type
    if origin is typing.Literal:
        return "__not_one_of_the_choices__"
    return _WRONG_TYPE.get(origin)


class OptionsContract:
    """Checks of a component's ``Options`` dataclass, shared by every kind's
    contract. Subclasses provide :meth:`make_component` and may list
    ``invalid_options``: ``(values, field)`` pairs (or ``pytest.param`` of
    them) that the component must refuse with a :class:`ConfigError` naming
    ``<section>.<field>``, when the config is validated (``Options``
    ``__post_init__``), when it is built, or at the latest in ``fit``."""

    section: ClassVar[str] = ""
    invalid_options: ClassVar[list[Any]] = []

    def make_component(self, tmp_path: Path) -> Component:
        raise NotImplementedError

    def fit_component(self, component: Component) -> Any:
        """Run the component's ``fit`` on the suite's data (refusals may come here)."""
        raise NotImplementedError

    def pytest_generate_tests(self, metafunc):
        if "invalid_values" in metafunc.fixturenames:
            metafunc.parametrize(
                ("invalid_values", "invalid_field"),
                self.invalid_options,
                ids=_invalid_ids(self.invalid_options),
            )

    def test_options_are_a_documented_dataclass(self, tmp_path):
        component = self.make_component(tmp_path)
        cls = type(component)
        assert dataclasses.is_dataclass(cls.Options), f"{cls.__name__}.Options is not a dataclass"
        assert isinstance(component.options, cls.Options)
        typing.get_type_hints(cls.Options)  # annotations must resolve for validation
        undocumented = [
            f.name for f in dataclasses.fields(cls.Options) if not f.metadata.get("help")
        ]
        assert not undocumented, (
            f"options without help text (use retrikt_core.config.option): {undocumented}"
        )
        assert cls.describe(), (
            f"{cls.__name__} has no docstring (its first line describes it in config schema)"
        )

    def test_options_survive_config_validation(self, tmp_path):
        """The options the suite uses, written out as a config section and
        validated again, come back equal (as after a save/load)."""
        options = self.make_component(tmp_path).options
        values = json.loads(json.dumps(dataclasses.asdict(options)))
        assert build_options(self.section, type(options), values) == options

    def test_unknown_option_is_refused_with_its_name(self, tmp_path):
        cls = type(self.make_component(tmp_path))
        with pytest.raises(ConfigError) as error:
            build_options(self.section, cls.Options, {"no_such_option": 1})
        message = str(error.value)
        assert message.startswith(f"{self.section}.no_such_option: unknown option")
        for f in dataclasses.fields(cls.Options):
            assert f.name in message, f"the error does not list option {f.name!r}"

    def test_wrong_type_is_refused_with_the_field_name(self, tmp_path):
        cls = type(self.make_component(tmp_path))
        hints = typing.get_type_hints(cls.Options)
        checked = 0
        for f in dataclasses.fields(cls.Options):
            value = wrong_type_value(hints[f.name])
            if value is None:
                continue
            with pytest.raises(ConfigError) as error:
                build_options(self.section, cls.Options, {f.name: value})
            assert str(error.value).startswith(f"{self.section}.{f.name}"), str(error.value)
            checked += 1
        if not checked and dataclasses.fields(cls.Options):
            pytest.fail("no option has a type the config can check (all Any?)")

    def test_invalid_value_is_refused_with_the_field_name(
        self, tmp_path, invalid_values, invalid_field
    ):
        component = self.make_component(tmp_path)
        cls = type(component)
        values = {**json.loads(json.dumps(dataclasses.asdict(component.options))), **invalid_values}
        where = f"{self.section}.{invalid_field}"
        try:
            built = cls(build_options(self.section, cls.Options, values))
            self.fit_component(built)
        except ConfigError as error:
            assert where in str(error), f"the error does not name {where}: {error}"
        except Exception as error:  # a crash deep inside is not a clear error
            pytest.fail(
                f"{invalid_values} was refused with {type(error).__name__}: {error}, "
                f"not a ConfigError naming {where}"
            )
        else:
            pytest.fail(f"{invalid_values} was accepted (config, construction and fit)")


def _invalid_ids(entries: list[Any]) -> list[str]:
    ids = []
    for entry in entries:
        values = entry.values[0] if hasattr(entry, "values") else entry[0]
        ids.append(",".join(f"{k}={v!r}" for k, v in values.items()).replace(" ", ""))
    return ids


class TeacherContract(OptionsContract):
    """Subclass as ``Test...`` and implement :meth:`make_teacher`."""

    section = "teacher"
    k_shot: ClassVar[int] = 4
    seed: ClassVar[int] = 0
    # Tolerance for "the same probabilities" (reload, same seed, batching).
    atol: ClassVar[float] = 1e-6

    def make_teacher(self, tmp_path: Path) -> Teacher:
        """A new, unfitted teacher of the kind under test (``tmp_path`` is free to use)."""
        raise NotImplementedError("subclass TeacherContract and implement make_teacher")

    def make_task(self, pair: bool = False) -> Task:
        """The task the teacher is fitted for; override for a teacher that
        needs a particular task."""
        return contract_task(pair)

    # helpers -----------------------------------------------------------------

    def make_component(self, tmp_path: Path) -> Component:
        return self.make_teacher(tmp_path)

    def fit_component(self, component: Component) -> Any:
        return component.fit(self.make_task(), self.kshot(), seed=self.seed)

    def kshot(self, pair: bool = False) -> list[Example]:
        return contract_examples(self.k_shot, seed=self.seed, pair=pair, prefix="k")

    def fitted(self, tmp_path: Path, pair: bool = False, seed: int | None = None) -> Teacher:
        teacher = self.make_teacher(tmp_path)
        seed = self.seed if seed is None else seed
        teacher.fit(self.make_task(pair), self.kshot(pair), seed=seed)
        return teacher

    # the contract --------------------------------------------------------------

    def test_is_a_named_teacher(self, tmp_path):
        teacher = self.make_teacher(tmp_path)
        assert isinstance(teacher, Teacher)
        assert teacher.kind == "teacher"
        assert isinstance(teacher.name, str) and teacher.name

    def test_fit_returns_stats_the_manifest_can_hold(self, tmp_path):
        teacher = self.make_teacher(tmp_path)
        stats = teacher.fit(self.make_task(), self.kshot(), seed=self.seed)
        assert isinstance(stats, dict)
        json.dumps(stats)

    def test_predict_proba_rows_are_distributions(self, tmp_path):
        teacher = self.fitted(tmp_path)
        queries = contract_queries()
        rows = teacher.predict_proba(queries)
        assert_probability_rows(rows, len(queries), len(LABELS), where="predict_proba")
        kshot = self.kshot()
        assert_probability_rows(teacher.predict_proba(kshot), len(kshot), len(LABELS), where="k")

    def test_empty_batch_gives_no_rows(self, tmp_path):
        assert self.fitted(tmp_path).predict_proba([]) == []

    def test_batching_does_not_change_probabilities(self, tmp_path):
        teacher = self.fitted(tmp_path)
        queries = contract_queries()
        together = teacher.predict_proba(queries)
        alone = [teacher.predict_proba([q])[0] for q in queries]
        assert_close_rows(alone, together, max(self.atol, 1e-5))
        backwards = teacher.predict_proba(queries[::-1])[::-1]
        assert_close_rows(backwards, together, max(self.atol, 1e-5))

    def test_same_seed_gives_the_same_teacher(self, tmp_path):
        queries = contract_queries()
        first = self.fitted(tmp_path / "a").predict_proba(queries)
        second = self.fitted(tmp_path / "b").predict_proba(queries)
        assert_close_rows(second, first, self.atol)

    def test_num_parameters_is_a_count(self, tmp_path):
        count = self.fitted(tmp_path).num_parameters()
        assert type(count) is int and count >= 0, f"num_parameters() returned {count!r}"

    def test_save_load_round_trip(self, tmp_path):
        teacher = self.fitted(tmp_path)
        queries = contract_queries()
        before = teacher.predict_proba(queries)
        path = tmp_path / "saved"
        teacher.save_pretrained(path)
        meta = json.loads((path / COMPONENT_FILE).read_text())
        assert (meta["kind"], meta["name"]) == ("teacher", teacher.name)
        loaded = type(teacher).from_pretrained(path)
        assert loaded.options == teacher.options
        assert loaded.num_parameters() == teacher.num_parameters()
        assert_close_rows(loaded.predict_proba(queries), before, self.atol)

    def test_sentence_pairs_use_both_texts(self, tmp_path):
        teacher = self.fitted(tmp_path, pair=True)
        queries = contract_queries(pair=True)
        rows = teacher.predict_proba(queries)
        assert_probability_rows(rows, len(queries), len(LABELS), where="pairs")
        # The same first texts with second texts that carry another label.
        rng = random.Random(5)
        swapped = [
            Example(q.text, contract_sentence(rng, (i + 1) % len(LABELS)), id=q.id)
            for i, q in enumerate(queries)
        ]
        assert rows_differ(teacher.predict_proba(swapped), rows), "the second text is ignored"

    def test_embed_if_implemented_gives_one_row_per_input(self, tmp_path):
        teacher = self.fitted(tmp_path)
        if type(teacher).embed is Teacher.embed:
            pytest.skip(f"teacher {teacher.name!r} does not implement the optional embed")
        queries = contract_queries()
        rows = teacher.embed(queries)
        assert isinstance(rows, list) and len(rows) == len(queries)
        widths = {len(row) for row in rows}
        assert len(widths) == 1 and widths.pop() > 0, f"rows of widths {widths}"
        assert all(type(v) is float and math.isfinite(v) for row in rows for v in row)
        alone = [teacher.embed([q])[0] for q in queries]
        assert_close_rows(alone, rows, max(self.atol, 1e-4))
        # The pipeline embeds with the teacher it saved, so reloading must keep it.
        teacher.save_pretrained(tmp_path / "saved")
        loaded = type(teacher).from_pretrained(tmp_path / "saved")
        assert_close_rows(loaded.embed(queries), rows, max(self.atol, 1e-4))
