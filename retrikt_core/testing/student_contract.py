"""The contract every :class:`Student` passes, as a pytest base class.

A plugin's test module subclasses it and says how to build the student::

    from retrikt_core.testing.student_contract import StudentContract

    class TestMyStudent(StudentContract):
        lam_option = "lam"  # the option that fixes the interpolation weight, if any

        def make_student(self, tmp_path):
            return MyStudent(MyStudent.Options(width=16, epochs=2))

pytest then runs every ``test_*`` method below against that student, trained
on a small synthetic three-label task and a few dozen teacher-labelled
knowledge entries indexed in the built-in ``memory`` store behind the ``knn``
retriever (override :meth:`make_retriever` for another). It is trained the
three ways the pipeline trains students: on k-shot labels alone, with the
knowledge as soft targets, and with the retriever. In each case
``predict_proba`` gives ``[n][C]`` distributions, with and without
neighbours, for sentences and pairs, independently of batching; ``None``
neighbours and neighbour rows that are empty leave the student's own
prediction; the same seed gives the same student; ``num_parameters`` is an
int > 0; a save/load round trip gives the same options, count and
predictions (with and without neighbours) and encodings; ``encode`` returns
one vector per example (or raises ``NotImplementedError``).

When ``lam_option`` names an option that fixes the interpolation weight
``lam`` (``p = lam * p_knn + (1 - lam) * p_student``), the suite also checks
its ends: ``lam = 0`` is the student alone (neighbours change nothing) and
``lam = 1`` is retrieval alone (neighbours that agree give their
distribution). The option checks are those of
:class:`~retrikt_core.testing.teacher_contract.OptionsContract`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path
from typing import Any, ClassVar

import pytest

from retrikt_core.interfaces import COMPONENT_FILE, Component, Retriever, Student, Task
from retrikt_core.records import Example, Knowledge, Neighbors
from retrikt_core.testing.teacher_contract import (
    LABELS,
    OptionsContract,
    assert_close_rows,
    assert_probability_rows,
    contract_examples,
    contract_queries,
    contract_sentence,
    contract_task,
    rows_differ,
)


def contract_knowledge(n: int, *, seed: int = 0, pair: bool = False) -> list[Knowledge]:
    """``n`` teacher-labelled entries (ids ``kn-0``, ...): text that carries a
    label, a soft teacher distribution that mostly agrees with it."""
    rng = random.Random(seed + 1000)
    entries = []
    for i in range(n):
        label = i % len(LABELS)
        weights = [0.1 + rng.random() * 0.1 for _ in LABELS]
        weights[label] = 0.7 + rng.random() * 0.2
        entries.append(
            Knowledge(
                text=contract_sentence(rng, label),
                text_pair=contract_sentence(rng, label) if pair else None,
                requested_label=label,
                teacher_probs=tuple(w / sum(weights) for w in weights),
                source="generator",
                provenance={"contract": True, "index": i},
                id=f"kn-{i}",
            )
        )
    return entries


def agreeing_neighbors(n: int, probs: list[float], k: int = 3) -> Neighbors:
    """``n`` queries whose ``k`` neighbours all carry the distribution ``probs``."""
    return Neighbors(
        ids=[[f"nb-{i}-{j}" for j in range(k)] for i in range(n)],
        scores=[[0.9 - 0.1 * j for j in range(k)] for _ in range(n)],
        label_probs=[[list(probs) for _ in range(k)] for _ in range(n)],
    )


class StudentContract(OptionsContract):
    """Subclass as ``Test...`` and implement :meth:`make_student`."""

    section = "student"
    k_shot: ClassVar[int] = 6
    n_knowledge: ClassVar[int] = 60
    k: ClassVar[int] = 4
    seed: ClassVar[int] = 0
    # Tolerance for "the same predictions" (reload, same seed, batching).
    atol: ClassVar[float] = 1e-6
    # The option that fixes the interpolation weight (e.g. "lam"); None when
    # the student has none, and the checks of its ends are skipped.
    lam_option: ClassVar[str | None] = None

    def make_student(self, tmp_path: Path) -> Student:
        """A new, untrained student of the kind under test (``tmp_path`` is free to use)."""
        raise NotImplementedError("subclass StudentContract and implement make_student")

    def make_task(self, pair: bool = False) -> Task:
        return contract_task(pair)

    def make_retriever(self, knowledge: list[Knowledge]) -> Retriever:
        """A retriever bound to a store holding ``knowledge``."""
        from retrikt_core.builtin.memory_store import MemoryStore, MemoryStoreOptions
        from retrikt_core.builtin.retrievers import KnnRetriever, KnnRetrieverOptions

        store = MemoryStore(MemoryStoreOptions(dim=512))
        store.add(knowledge)
        retriever = KnnRetriever(KnnRetrieverOptions(k=self.k))
        retriever.bind([store])
        return retriever

    # helpers -----------------------------------------------------------------

    def make_component(self, tmp_path: Path) -> Component:
        return self.make_student(tmp_path)

    def fit_component(self, component: Component) -> Any:
        knowledge = self.knowledge()
        return component.fit(
            self.make_task(),
            self.kshot(),
            knowledge,
            self.make_retriever(knowledge),
            seed=self.seed,
        )

    def kshot(self, pair: bool = False) -> list[Example]:
        return contract_examples(self.k_shot, seed=self.seed, pair=pair, prefix="k")

    def knowledge(self, pair: bool = False) -> list[Knowledge]:
        return contract_knowledge(self.n_knowledge, seed=self.seed, pair=pair)

    def trained(
        self,
        tmp_path: Path,
        *,
        knowledge: bool = True,
        retrieval: bool = True,
        pair: bool = False,
        student: Student | None = None,
    ) -> tuple[Student, Retriever, dict[str, Any]]:
        """A student trained as ``retrikt_student`` (default), ``kd_student``
        (``retrieval=False``) or ``kshot_student`` (``knowledge=False``); the
        retriever over the knowledge is returned either way, for queries."""
        entries = self.knowledge(pair)
        retriever = self.make_retriever(entries)
        student = self.make_student(tmp_path) if student is None else student
        stats = student.fit(
            self.make_task(pair),
            self.kshot(pair),
            entries if knowledge else [],
            retriever if retrieval else None,
            seed=self.seed,
        )
        return student, retriever, stats

    def with_option(self, tmp_path: Path, **values: Any) -> Student:
        student = self.make_student(tmp_path)
        options = dataclasses.replace(student.options, **values)
        return type(student)(options)

    # the contract --------------------------------------------------------------

    def test_is_a_named_student(self, tmp_path):
        student = self.make_student(tmp_path)
        assert isinstance(student, Student)
        assert student.kind == "student"
        assert isinstance(student.name, str) and student.name

    @pytest.mark.parametrize(
        "method", ["kshot_student", "kd_student", "retrikt_student"], ids=lambda m: m
    )
    def test_trains_and_predicts_distributions(self, tmp_path, method):
        student, retriever, stats = self.trained(
            tmp_path,
            knowledge=method != "kshot_student",
            retrieval=method == "retrikt_student",
        )
        assert isinstance(stats, dict)
        json.dumps(stats)
        queries = contract_queries()
        own = student.predict_proba(queries)
        assert_probability_rows(own, len(queries), len(LABELS), where=f"{method}, alone")
        assert student.predict_proba(queries, None) == own
        mixed = student.predict_proba(queries, retriever.retrieve(queries))
        assert_probability_rows(mixed, len(queries), len(LABELS), where=f"{method}, neighbours")

    def test_empty_batch_gives_no_rows(self, tmp_path):
        student, _, _ = self.trained(tmp_path)
        assert student.predict_proba([]) == []
        assert student.predict_proba([], Neighbors([], [], [])) == []

    def test_queries_without_neighbours_keep_the_own_prediction(self, tmp_path):
        student, _, _ = self.trained(tmp_path)
        queries = contract_queries()
        empty = Neighbors([[] for _ in queries], [[] for _ in queries], [[] for _ in queries])
        own = student.predict_proba(queries)
        assert_close_rows(student.predict_proba(queries, empty), own, 1e-12)

    def test_batching_does_not_change_predictions(self, tmp_path):
        student, retriever, _ = self.trained(tmp_path)
        queries = contract_queries()
        neighbors = retriever.retrieve(queries)
        tol = max(self.atol, 1e-5)
        together = student.predict_proba(queries, neighbors)
        alone = [student.predict_proba([q], neighbors.row(i))[0] for i, q in enumerate(queries)]
        assert_close_rows(alone, together, tol)
        own = student.predict_proba(queries)
        assert_close_rows([student.predict_proba([q])[0] for q in queries], own, tol)

    def test_same_seed_gives_the_same_student(self, tmp_path):
        queries = contract_queries()
        first, retriever, _ = self.trained(tmp_path / "a")
        second, _, _ = self.trained(tmp_path / "b")
        neighbors = retriever.retrieve(queries)
        assert_close_rows(second.predict_proba(queries), first.predict_proba(queries), self.atol)
        assert_close_rows(
            second.predict_proba(queries, neighbors),
            first.predict_proba(queries, neighbors),
            self.atol,
        )

    def test_num_parameters_is_positive(self, tmp_path):
        count = self.trained(tmp_path)[0].num_parameters()
        assert type(count) is int and count > 0, f"num_parameters() returned {count!r}"

    def test_save_load_round_trip(self, tmp_path):
        student, retriever, _ = self.trained(tmp_path)
        queries = contract_queries()
        neighbors = retriever.retrieve(queries)
        path = tmp_path / "saved"
        student.save_pretrained(path)
        meta = json.loads((path / COMPONENT_FILE).read_text())
        assert (meta["kind"], meta["name"]) == ("student", student.name)
        loaded = type(student).from_pretrained(path)
        assert loaded.options == student.options
        assert loaded.num_parameters() == student.num_parameters()
        assert_close_rows(loaded.predict_proba(queries), student.predict_proba(queries), self.atol)
        assert_close_rows(
            loaded.predict_proba(queries, neighbors),
            student.predict_proba(queries, neighbors),
            self.atol,
        )

    def test_encode_gives_one_vector_per_example(self, tmp_path):
        student, _, _ = self.trained(tmp_path)
        queries = contract_queries()
        try:
            vectors = student.encode(queries)
        except NotImplementedError:
            pytest.skip(f"student {student.name!r} has no encoder")
        assert len(vectors) == len(queries)
        dims = {len(v) for v in vectors}
        assert len(dims) == 1 and dims.pop() > 0, "vectors of different or zero length"
        assert all(type(x) is float and math.isfinite(x) for v in vectors for x in v)
        student.save_pretrained(tmp_path / "saved")
        loaded = type(student).from_pretrained(tmp_path / "saved")
        assert_close_rows(loaded.encode(queries), vectors, self.atol)

    def test_sentence_pairs_use_both_texts(self, tmp_path):
        student, retriever, _ = self.trained(tmp_path, pair=True)
        queries = contract_queries(pair=True)
        rows = student.predict_proba(queries)
        assert_probability_rows(rows, len(queries), len(LABELS), where="pairs")
        mixed = student.predict_proba(queries, retriever.retrieve(queries))
        assert_probability_rows(mixed, len(queries), len(LABELS), where="pairs, neighbours")
        rng = random.Random(5)
        swapped = [
            Example(q.text, contract_sentence(rng, (i + 1) % len(LABELS)), id=q.id)
            for i, q in enumerate(queries)
        ]
        assert rows_differ(student.predict_proba(swapped), rows), "the second text is ignored"

    def test_lam_zero_is_the_student_alone(self, tmp_path):
        if self.lam_option is None:
            pytest.skip("no option fixes the interpolation weight (lam_option is None)")
        student = self.with_option(tmp_path, **{self.lam_option: 0.0})
        student, retriever, _ = self.trained(tmp_path, student=student)
        queries = contract_queries()
        own = student.predict_proba(queries)
        assert_close_rows(student.predict_proba(queries, retriever.retrieve(queries)), own, 1e-9)
        agreeing = agreeing_neighbors(len(queries), [1.0, 0.0, 0.0])
        assert_close_rows(student.predict_proba(queries, agreeing), own, 1e-9)

    def test_lam_one_is_retrieval_alone(self, tmp_path):
        if self.lam_option is None:
            pytest.skip("no option fixes the interpolation weight (lam_option is None)")
        student = self.with_option(tmp_path, **{self.lam_option: 1.0})
        student, _, _ = self.trained(tmp_path, student=student)
        queries = contract_queries()
        probs = [0.2, 0.3, 0.5]
        found = student.predict_proba(queries, agreeing_neighbors(len(queries), probs))
        assert_close_rows(found, [probs] * len(queries), 1e-9)
        # and the neighbours' distribution, not the student's, decides
        assert rows_differ(student.predict_proba(queries), found)
