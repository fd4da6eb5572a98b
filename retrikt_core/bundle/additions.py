"""``retrikt store add``: labelled knowledge added to a bundle's store(s)
after training, without retraining the student.

The new entries are encoded by the bundle's own store (so with the keys the
store's other entries have) and appended after the existing ones, which keep
their bytes; each carries ``provenance["added_in"]``, the bundle's new store
version, which predictions show. A bundle has no teacher, so what is added
must already be labelled: a finished run's ``knowledge.jsonl`` (or the run
folder itself) or any JSONL file of the same rows. The bundle is written to
a copy that replaces it once complete, with new checksums.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from retrikt_core.bundle.load import BundleManifest, apply_retrieval, bound_retriever
from retrikt_core.errors import BundleError, InputError
from retrikt_core.inspection.predict import ADDED_IN
from retrikt_core.interfaces import KnowledgeStore, Student
from retrikt_core.pipeline.rundir import load_component
from retrikt_core.plugins import Plugins, get_plugins
from retrikt_core.records import Knowledge, jsonl_lines

KNOWLEDGE_FILE = Path("stages") / "extract" / "knowledge.jsonl"


# Two scalars chosen on fewer entries than this follow their noise.
MIN_MIXING_ENTRIES = 50


@dataclass
class Mixing:
    """The interpolation settings a bundle predicts with: ``lam`` and the
    neighbour temperature."""

    lam: float
    knn_temperature: float


@dataclass
class Addition:
    """What :func:`add_to_bundle` did: entries added, entries skipped (their
    text already in the store, or repeated in what was given), the bundle's
    store version after it, and, when the mixing was chosen again on the
    added entries, the settings before and after."""

    added: int
    skipped: int
    store_version: int
    mixing: tuple[Mixing, Mixing] | None = None


def read_labelled(
    path: str | Path, num_labels: int, is_pair: bool = False, unlabelled: bool = False
) -> list[Knowledge]:
    """Labelled knowledge from a JSONL file (or a finished run's
    ``stages/extract/knowledge.jsonl`` when ``path`` is a run folder): each
    row a ``text`` (with a ``text_pair`` exactly when ``is_pair``) and
    ``teacher_probs``, a distribution over ``num_labels`` labels. With
    ``unlabelled``, rows may leave ``teacher_probs`` out (empty in the
    result), for a teacher to label (:func:`label_with_teacher`).
    :class:`InputError` names the file and line."""
    path = Path(path)
    if path.is_dir():
        if not (path / KNOWLEDGE_FILE).is_file():
            raise InputError(f"{path}: not a finished run (no {KNOWLEDGE_FILE}) and not a file")
        path = path / KNOWLEDGE_FILE
    try:
        lines = jsonl_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    entries = []
    for number, line in lines:
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError:
            raise InputError(f"{where}: not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f"{where}: needs a text")
        if not row["text"].strip():
            raise InputError(f"{where}: the text is empty")
        pair = row.get("text_pair")
        if pair is not None and not isinstance(pair, str):
            raise InputError(f"{where}: text_pair must be a string, got {pair!r}")
        if (pair is not None) != is_pair:
            wanted = "pairs (text and text_pair)" if is_pair else "single texts (no text_pair)"
            raise InputError(f"{where}: this bundle's task takes {wanted}")
        provenance = row.get("provenance") or {}
        if not isinstance(provenance, dict):
            raise InputError(f"{where}: provenance must be an object, got {provenance!r}")
        probs = row.get("teacher_probs")
        if probs is None and unlabelled:
            entries.append(
                Knowledge(
                    text=row["text"],
                    text_pair=pair,
                    source=str(row.get("source", "added")),
                    provenance=dict(provenance),
                )
            )
            continue
        if probs is None:
            raise InputError(
                f"{where}: no teacher_probs; a bundle has no teacher to label new text: "
                "name a finished run whose teacher labels it (--teacher RUN_DIR), or add "
                "labelled knowledge (a finished run's stages/extract/knowledge.jsonl)"
            )
        if (
            not isinstance(probs, list)
            or len(probs) != num_labels
            or not all(
                isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1
                for p in probs
            )
            or not math.isclose(sum(probs), 1.0, abs_tol=1e-3)
        ):
            raise InputError(
                f"{where}: teacher_probs must be a distribution over this bundle's "
                f"{num_labels} labels, got {probs!r}"
            )
        entries.append(
            Knowledge(
                text=row["text"],
                text_pair=pair,
                teacher_probs=tuple(float(p) for p in probs),
                source=str(row.get("source", "added")),
                provenance=dict(provenance),
            )
        )
    if not entries:
        raise InputError(f"{path}: holds no entries")
    return entries


def label_with_teacher(
    entries: list[Knowledge], run_dir: str | Path, label_names: list[str], batch: int = 64
) -> list[Knowledge]:
    """``entries`` with those that have no ``teacher_probs`` labelled by the
    teacher of the finished run in ``run_dir``, which must have been trained
    for the same labels (:class:`InputError` otherwise)."""
    from retrikt_core.pipeline.rundir import RunDir
    from retrikt_core.progress import track

    run = RunDir(run_dir)
    if not run.task_file.is_file():
        raise InputError(f"{run.path}: not a finished run (no {run.task_file.name}); no teacher")
    names = run.task_info().get("label_names")
    if names != list(label_names):
        raise InputError(
            f"{run.path}: its teacher labels {names}, the bundle's task {list(label_names)}"
        )
    todo = [i for i, e in enumerate(entries) if not e.teacher_probs]
    if not todo:
        return entries
    teacher = run.load("teacher", "teacher", "teacher", get_plugins())
    out = list(entries)
    for start in track(range(0, len(todo), batch), "store add: teacher labels"):
        chunk = todo[start : start + batch]
        probs = teacher.predict_proba([entries[i].example for i in chunk])
        for i, row in zip(chunk, probs, strict=True):
            provenance = {**entries[i].provenance, "labelled_by": str(run.path)}
            labels = tuple(map(float, row))
            out[i] = replace(entries[i], teacher_probs=labels, provenance=provenance)
    return out


def add_to_bundle(
    bundle_dir: str | Path,
    entries: list[Knowledge],
    plugins: Plugins | None = None,
    fit_mixing: bool = False,
) -> Addition:
    """Append ``entries`` (less those whose text the bundle's store already
    holds, or that repeat one another) to every store of the bundle in
    ``bundle_dir`` and rewrite its manifest, checksums and model card; the
    student is untouched. The bundle is checked first (a damaged one is
    refused, naming the file) and written to a copy that replaces it only
    once complete; an addition with nothing new changes nothing.

    With ``fit_mixing``, ``lam`` and the neighbour temperature in
    ``bundle.json`` are chosen again on the added entries, which the student
    never trained on (best cross-entropy to their teacher labels): a student
    trained on every entry of its store learns to ignore its neighbours, and
    added knowledge is where they know more than it does. Predictions then
    change for every input, not only through the new entries."""
    from retrikt_core.atomic import commit_directory
    from retrikt_core.bundle.export import write_manifest
    from retrikt_core.bundle.load import file_records, read_manifest

    bundle_dir = Path(bundle_dir).resolve()
    manifest = read_manifest(bundle_dir)  # every listed file, size and sha256
    if manifest.retrieval is None or not manifest.stores:
        raise BundleError(
            f"{bundle_dir}: a bundle of {manifest.method} has no store to add to "
            "(export the retrikt_student)"
        )
    plugins = plugins or get_plugins()
    version = manifest.store_version + 1
    stores = []
    for record in manifest.stores:
        store = load_component(bundle_dir / record["dir"], "store", plugins)
        assert isinstance(store, KnowledgeStore)
        stores.append(store)
    # The bundle's stores hold the same entries: what is new is new to all.
    held = {(e.text, e.text_pair) for store in stores for e in store.entries()}
    new: list[Knowledge] = []
    for entry in entries:
        if (entry.text, entry.text_pair) in held:
            continue
        held.add((entry.text, entry.text_pair))
        provenance = {**entry.provenance, ADDED_IN: version}
        new.append(replace(entry, id=f"add{version}-{len(new):07d}", provenance=provenance))
    if not new:
        return Addition(added=0, skipped=len(entries), store_version=manifest.store_version)
    if fit_mixing and len(new) < MIN_MIXING_ENTRIES:
        raise InputError(
            f"--fit-mixing: {len(new)} new entries; choosing lam on fewer than "
            f"{MIN_MIXING_ENTRIES} follows their noise (add more, or leave lam as trained)"
        )
    mixing = None
    partial = bundle_dir.with_name(bundle_dir.name + ".adding")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        shutil.copytree(bundle_dir, partial)
        for record, store in zip(manifest.stores, stores, strict=True):
            store.add(new)
            folder = partial / record["dir"]
            shutil.rmtree(folder)
            store.save_pretrained(folder)
            record["entries"] = len(store)
        # A student that retrieves in its own space searches its own keys:
        # it encodes the new entries too.
        student = load_component(partial / manifest.student["dir"], "student", plugins)
        assert isinstance(student, Student)
        student.add_own_keys(new, partial / manifest.student["dir"])
        if fit_mixing:
            mixing = _fit_mixing(student, manifest, stores, new, plugins, bundle_dir)
        manifest.store_version = version
        manifest.files = file_records(partial)
        for record in manifest.stores:
            record["bytes"] = manifest.bytes_under(record["dir"])
        _note_in_card(partial / "README.md", version, len(new), manifest.stores, mixing)
        write_manifest(partial, manifest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    commit_directory(partial, bundle_dir)
    return Addition(
        added=len(new), skipped=len(entries) - len(new), store_version=version, mixing=mixing
    )


def _fit_mixing(
    student: Student,
    manifest: BundleManifest,
    stores: list[KnowledgeStore],
    new: list[Knowledge],
    plugins: Plugins,
    where: Path,
) -> tuple[Mixing, Mixing]:
    """Choose the student's lam and temperature on the added entries, with
    neighbours from the bundle's stores as they now are, and record them in
    ``manifest.retrieval``: ``(before, after)``."""
    settings = manifest.retrieval
    assert settings is not None
    apply_retrieval(student, settings, where)  # the settings the bundle predicted with
    before = Mixing(
        float(getattr(student, "lam", 0.0)), float(getattr(student, "knn_temperature", 1.0))
    )
    retriever = student.own_retriever() or bound_retriever(settings, stores, plugins)
    if not student.fit_mixing(new, retriever):
        raise InputError(
            f"--fit-mixing: student {student.name!r} has no lam or temperature left to "
            "choose (its options fix both, or it does not interpolate)"
        )
    after = Mixing(float(student.lam), float(student.knn_temperature))
    settings.lam, settings.knn_temperature = after.lam, after.knn_temperature
    return before, after


CARD_SECTION = "## Knowledge added after training"


def _note_in_card(
    card: Path, version: int, added: int, stores: list[dict], mixing: tuple[Mixing, Mixing] | None
) -> None:
    """One line per addition in the model card, under its own heading (the
    card's figures above it describe the bundle as exported)."""
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8").rstrip("\n") + "\n"
    if CARD_SECTION not in text:
        text += f"\n{CARD_SECTION}\n\n"
    sizes = ", ".join(f"`{s['name']}` {s['entries']:,} entries" for s in stores)
    text += f"- store version {version}: {added:,} entries added by `retrikt store add` "
    text += f"({sizes})"
    if mixing is not None:
        before, after = mixing
        text += (
            f"; lam {before.lam:.2f} -> {after.lam:.2f} and neighbour temperature "
            f"{before.knn_temperature:.2f} -> {after.knn_temperature:.2f}, chosen on the "
            "added entries"
        )
    text += "\n"
    card.write_text(text, encoding="utf-8")
