"""Where retrieval earns its place: the ~2M tiny-transformer student on SST-2
transfer-set knowledge, with and without retrieval, in the regimes where
retrieval could add what training did not.

The teacher, the k-shot split, the eval split and the first knowledge come
from one finished run (``--run``, e.g. the compact SST-2 run): its tuned
SmolLM2 teacher labels further SST-2 train sentences (labels dropped, the
run's own entries and k-shot examples left out) up to the largest store. Per
student seed:

- ``size``: stores of each ``--sizes`` entries; KD (no retrieval), RetriKT
  with the store's fixed hashed n-gram keys and lam learned in training
  (``store``) or chosen on held-out store entries (``store-held``), with
  fixed all-MiniLM-L6-v2 sentence keys (the ``faiss`` store's ``minilm``
  encoder, lam chosen on held-out entries: ``minilm-held``), and learned
  retrieval (keys in the student's space, relational loss, lam chosen on
  held-out entries: ``learned-held``);
- ``sample``: trained on the smallest store's entries, retrieving from the
  largest store (lam chosen on the entries it did not train on);
- ``added``: the students trained on the smallest store, the rest of the
  largest store added afterwards without retraining (fixed keys: the store
  encodes them; learned: the student does), beside retraining on all of it,
  with the CPU seconds each costs; ``-fit`` arms then choose lam again on
  the added entries, which the student never trained on (``retrikt store
  add --fit-mixing``).
- ``recurring``: queries that recur. The texts of a random half of the eval
  split (``--recurring``; gold labels never read) are labelled by the
  teacher, as a service would label the queries it has seen, and added to
  the store of the students trained on the smallest store, without
  retraining; against KD retrained on the smallest store and those texts.
  Accuracy is reported on the whole eval split and on its recurring and new
  halves.

For every retrieving arm it also records the lambda in use and the
eval-label lambda ceiling (best accuracy over a lambda grid and the lambda
in use, at the temperature in use: a bound, not a way to choose lambda).
Resumable: labels, teacher states, trained students and each arm's result
are kept under ``--work``. ``--entry-budget`` caps the entries a student
passes over in training (epochs x entries it trains on): the students of
stores larger than the budget allows at ``--epochs`` train for fewer
epochs, for about the same number of steps. ``--d-model`` sets the
student's width (narrower students memorise less of the store, which leaves
retrieval more to add); each row records the student's parameters, the
bytes its stores save and its eval examples a second.

    .venv/bin/python benchmarks/retrieval_value.py --run runs/students/sst2-s0-compact \\
        --sizes 2000 8000 --seeds 0 1 2

Prints Markdown tables and writes benchmarks/results/retrieval-value.json.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.atomic import atomic_write_json
from retrikt_core.builtin.memory_store import MemoryStore
from retrikt_core.builtin.retrievers import KnnRetriever
from retrikt_core.builtin.tasks.presets import PresetOptions, SST2Task
from retrikt_core.interpolation import interpolate, overlapping
from retrikt_core.pipeline.rundir import RunDir
from retrikt_core.plugins import get_plugins
from retrikt_core.records import Example, Knowledge, jsonl_lines

# The extreme student of examples/configs/sst2-extreme.toml.
STUDENT = {"embeddings": "minilm-static", "d_model": 64, "epochs": 30}
K = 16
LAMS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def read_jsonl(path: Path, record: type) -> list[Any]:
    lines = jsonl_lines(path.read_text(encoding="utf-8"))
    return [record.from_dict(json.loads(line)) for _, line in lines]


def transfer_set(run: RunDir, task: Any, largest: int, work: Path, teacher: Any) -> list[Knowledge]:
    """The run's knowledge, then further SST-2 train sentences labelled by
    its teacher, up to ``largest`` entries; labelled rows are kept in
    ``work/knowledge.jsonl`` as they are done."""
    from retrikt_core.progress import track

    entries = run.read_knowledge()[:largest]
    cache = work / "knowledge.jsonl"
    if cache.is_file():
        entries += read_jsonl(cache, Knowledge)
    if len(entries) >= largest:
        return entries[:largest]
    seen = {e.text for e in entries} | {e.text for e in run.read_examples("prepare", "kshot.jsonl")}
    pool = [e for e in task.load("train") if e.text not in seen and len(e.text.split()) >= 4]
    random.Random(0).shuffle(pool)
    pool = pool[: largest - len(entries)]
    batch = 256
    with cache.open("a") as out:
        for start in track(range(0, len(pool), batch), "label transfer set"):
            chunk = pool[start : start + batch]
            probs = teacher.predict_proba([Example(e.text) for e in chunk])
            for i, (example, row) in enumerate(zip(chunk, probs, strict=True)):
                entry = Knowledge(
                    example.text,
                    teacher_probs=tuple(row),
                    source="corpus",
                    provenance={"file": "sst2 train"},
                    id=f"t{len(entries) + start + i:06d}",
                )
                entries.append(entry)
                out.write(json.dumps(entry.to_dict()) + "\n")
            out.flush()
    return entries


def teacher_states(entries: list[Knowledge], work: Path, teacher: Any) -> np.ndarray:
    """The teacher's hidden state of each entry (``Teacher.embed``), cached."""
    from retrikt_core.progress import track

    path = work / "states.npy"
    done = np.load(path) if path.is_file() else np.zeros((0, 0), np.float32)
    parts = [done] if len(done) else []
    batch = 256
    for start in track(range(len(done), len(entries), batch), "teacher states"):
        chunk = entries[start : start + batch]
        parts.append(np.asarray(teacher.embed([e.example for e in chunk]), np.float32))
        np.save(path, np.concatenate(parts))
    return np.concatenate(parts)[: len(entries)]


class MiniLMKeys:
    """all-MiniLM-L6-v2 keys of every text an arm may search for or store,
    encoded once and kept in ``work/minilm-keys.npz``: each arm's store then
    looks its keys up instead of running MiniLM again on the same texts."""

    def __init__(self, work: Path) -> None:
        self.path = work / "minilm-keys.npz"
        self.rows: dict[str, np.ndarray] = {}
        if self.path.is_file():
            saved = np.load(self.path)
            self.rows = dict(zip(saved["texts"].tolist(), saved["keys"], strict=True))

    def encode(self, examples: list[Example]) -> np.ndarray:
        from retrikt_faiss.encoders import minilm_encode

        missing = list({e.text: e for e in examples if e.text not in self.rows}.values())
        if missing:
            for example, key in zip(missing, minilm_encode(missing), strict=True):
                self.rows[example.text] = key
            texts = list(self.rows)
            np.savez(self.path, texts=np.array(texts), keys=np.stack([self.rows[t] for t in texts]))
        return np.stack([self.rows[e.text] for e in examples])


def minilm_store(keys: MiniLMKeys) -> Any:
    """A flat ``faiss`` store with ``minilm`` keys, its encoder served from ``keys``."""
    from retrikt_faiss.store import FaissStore, FaissStoreOptions

    class CachedMiniLMStore(FaissStore):
        def encode(self, examples: list[Example]) -> np.ndarray:
            return keys.encode(examples)

    return CachedMiniLMStore(FaissStoreOptions(encoder="minilm", device="cpu"))


def retriever_over(entries: list[Knowledge], keys: str, context: dict[str, Any]) -> KnnRetriever:
    """A k-NN retriever over ``entries``, keyed by hashed n-grams (the
    memory store) or MiniLM sentence embeddings."""
    store = minilm_store(context["minilm"]) if keys == "minilm" else MemoryStore()
    store.add(entries)
    retriever = KnnRetriever(KnnRetriever.Options(k=K))
    retriever.bind([store])
    return retriever


def scores(
    student: Any,
    retriever: Any,
    evaluation: list[Example],
    parts: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Accuracy as trained, its own alone, and the eval-label lambda ceiling;
    with ``parts`` (name -> boolean mask over ``evaluation``), accuracy and
    own accuracy on each part as well."""
    gold = np.array([e.label for e in evaluation])
    own = np.asarray(student.predict_proba(evaluation))
    out: dict[str, Any] = {"own": float((own.argmax(1) == gold).mean())}
    mixed = own
    if retriever is not None:
        neighbors = retriever.retrieve(evaluation)
        mixed = interpolate(own, neighbors, student.lam, student.knn_temperature)
    for part, mask in (parts or {}).items():
        out[f"{part}_own"] = float((own.argmax(1) == gold)[mask].mean())
        out[f"{part}_accuracy"] = float((mixed.argmax(1) == gold)[mask].mean())
    if retriever is None:
        out["accuracy"] = out["own"]
        return out
    grid = {
        str(lam): float(
            (interpolate(own, neighbors, lam, student.knn_temperature).argmax(1) == gold).mean()
        )
        for lam in sorted({*LAMS, round(float(student.lam), 2)})
    }
    out.update(
        accuracy=float((mixed.argmax(1) == gold).mean()),
        lam=float(student.lam),
        ceiling=max(grid.values()),
        grid=grid,
    )
    return out


def throughput(student: Any, retriever: Any, evaluation: list[Example], repeats: int = 3) -> float:
    """Eval examples a second through the student, its neighbours and their
    mixing (best of ``repeats``, this process's threads): compare arms
    measured in one run, alone on the machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        own = np.asarray(student.predict_proba(evaluation))
        if retriever is not None:
            interpolate(own, retriever.retrieve(evaluation), student.lam, student.knn_temperature)
        best = min(best, time.perf_counter() - start)
    return len(evaluation) / best


def store_bytes(retriever: Any) -> int | None:
    """Bytes of the files the retriever's stores save: 0 without retrieval,
    None for learned keys (saved with the student)."""
    if retriever is None:
        return 0
    if not hasattr(retriever, "stores"):
        return None
    with tempfile.TemporaryDirectory() as folder:
        for i, store in enumerate(retriever.stores):
            store.save_pretrained(Path(folder) / str(i))
        return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def sibling_shares(
    entries: list[Knowledge], evaluation: list[Example], sample: int = 300
) -> dict[str, float]:
    """Of a seeded sample of ``sample`` store entries, the share whose text
    overlaps another entry's (a phrase of the same sentence: what
    ``choose_mixing`` leaves out for unseen entries); of as many eval texts,
    the share that overlaps any entry."""
    rng = random.Random(0)
    texts = [e.text for e in entries]
    picked = rng.sample(range(len(texts)), min(sample, len(texts)))
    store = sum(
        any(overlapping(texts[i], other) for j, other in enumerate(texts) if j != i) for i in picked
    )
    queries = rng.sample(evaluation, min(sample, len(evaluation)))
    found = sum(any(overlapping(q.text, other) for other in texts) for q in queries)
    return {"store": store / len(picked), "eval": found / len(queries)}


def memorised(student: Any, entries: list[Knowledge]) -> float:
    """The share of its own training entries on which a student predicts its
    teacher's label: what a lookup of a recurring text's entry (the
    teacher's label outright) could still add over the student."""
    own = np.asarray(student.predict_proba([e.example for e in entries]))
    teacher = np.asarray([e.teacher_probs for e in entries])
    return float((own.argmax(1) == teacher.argmax(1)).mean())


# Arm suffix -> (where the student retrieves, how lam is chosen, store keys).
ARMS = {
    "kd": (None, None, None),
    "store": ("store", "training", "hashed"),
    "store-held": ("store", "held_out", "hashed"),
    "minilm-held": ("store", "held_out", "minilm"),
    # Learned keys live in the student; its training store is the hashed one.
    "learned-held": ("learned", "held_out", "hashed"),
}
RETRIEVING = tuple(arm for arm, (retrieval, _, _) in ARMS.items() if retrieval)
# Added-knowledge arms may also choose lam again on the added entries
# (`retrikt store add --fit-mixing`).
FIT = "-fit"
ORDER = list(ARMS) + [arm + FIT for arm in RETRIEVING]


def train(
    name: str,
    seed: int,
    arm: str,
    entries: list[Knowledge],
    context: dict[str, Any],
    train_on: int = 0,
) -> tuple[Any, Any, float]:
    """(student, retriever it uses, CPU seconds): trained, or read back from
    ``work/students/<name>-s<seed>`` (``work/students/d<width>/...`` for
    another ``--d-model``)."""
    from retrikt_students.tiny_transformer import TransformerStudent, TransformerStudentOptions

    retrieval, lam_fit, keys = ARMS[arm]
    folder = context["work"] / "students" / context["width"] / f"{name}-s{seed}"
    options = dict(STUDENT, train_on=train_on, epochs=epochs_for(train_on or len(entries), context))
    if retrieval:
        options.update(retrieval=retrieval, lam_fit=lam_fit)
    retriever = retriever_over(entries, keys, context) if retrieval else None
    done = folder / "cpu_seconds.json"
    if done.is_file():
        student = TransformerStudent.from_pretrained(folder)
        seconds = json.loads(done.read_text())["cpu_seconds"]
    else:
        student = TransformerStudent(TransformerStudentOptions(**options))
        # The teacher's states line up with the leading entries; only learned
        # retrieval reads them, so they are computed on its first use, before
        # the clock starts: their cost is the teacher's, cached for every arm.
        extra = (
            {"teacher_states": context["states"]()[: len(entries)]}
            if retrieval == "learned"
            else {}
        )
        start = time.process_time()
        student.fit(context["task"], context["kshot"], entries, retriever, seed=seed, **extra)
        seconds = time.process_time() - start
        student.save_pretrained(folder)
        atomic_write_json(done, {"cpu_seconds": seconds})
    if retrieval == "learned":
        retriever = student.own_retriever()
    return student, retriever, seconds


def epochs_for(trained_on: int, context: dict[str, Any]) -> int:
    """The student's epochs: ``--epochs``, or fewer where that would pass
    over more than ``--entry-budget`` entries in all, so that students of
    larger stores take as many training steps as the budget allows."""
    budget = context["entry_budget"]
    if not budget:
        return STUDENT["epochs"]
    return max(1, min(STUDENT["epochs"], budget // trained_on))


def measure_seed(
    seed: int, sizes: list[int], context: dict[str, Any], wanted: Any
) -> dict[str, Any]:
    """Each arm of one student seed that ``wanted(name)`` selects."""
    entries, evaluation = context["entries"], context["eval"]
    small, large = min(sizes), max(sizes)
    rows: dict[str, Any] = {}

    def record(name: str, student: Any, retriever: Any, seconds: float) -> None:
        rows[name] = {
            **scores(student, retriever, evaluation),
            "cpu_seconds": seconds,
            "parameters": student.num_parameters(),
            "store_bytes": store_bytes(retriever),
            "examples_per_s": throughput(student, retriever, evaluation),
        }
        print(f"seed {seed} {name}: {100 * rows[name]['accuracy']:.1f}", flush=True)

    for size in sizes:
        for arm in ARMS:
            name = f"size{size}-{arm}"
            if wanted(name):
                trained = train(name, seed, arm, entries[:size], context)
                record(name, *trained)
                if arm == "kd":
                    rows[name]["memorised"] = memorised(trained[0], entries[:size])
    for arm in RETRIEVING:
        name = f"sample{small}of{large}-{arm}"
        if wanted(name):
            trained = train(name, seed, arm, entries[:large], context, train_on=small)
            record(name, *trained)
    added = entries[small:large]
    for arm, fit in [(arm, fit) for fit in (False, True) for arm in RETRIEVING]:
        name = f"added{large - small}to{small}-{arm}{FIT if fit else ''}"
        if wanted(name):
            record(name, *add_without_retraining(seed, arm, fit, small, added, "added", context))
    measure_recurring(seed, small, context, wanted, rows)
    return rows


def measure_recurring(
    seed: int, small: int, context: dict[str, Any], wanted: Any, rows: dict[str, Any]
) -> None:
    """The ``recurring`` regime of one student seed: the teacher-labelled
    texts of the recurring eval half added to the stores of the students
    trained on ``small`` entries, against KD before and after retraining."""
    seen = context["recurring"]
    if not seen:
        return
    entries, evaluation = context["entries"], context["eval"]
    mask = context["recurring_mask"]
    parts = {"recurring": mask, "new": ~mask}
    prefix = f"recurring{len(seen)}"

    def record(name: str, student: Any, retriever: Any, seconds: float) -> None:
        rows[name] = {**scores(student, retriever, evaluation, parts), "cpu_seconds": seconds}
        row = rows[name]
        print(
            f"seed {seed} {name}: {100 * row['accuracy']:.1f} (recurring "
            f"{100 * row['recurring_accuracy']:.1f}, new {100 * row['new_accuracy']:.1f})",
            flush=True,
        )

    if wanted(f"{prefix}-kd-before"):
        record(
            f"{prefix}-kd-before",
            *train(f"size{small}-kd", seed, "kd", entries[:small], context),
        )
    if wanted(f"{prefix}-kd"):
        retrained = entries[:small] + seen
        record(f"{prefix}-kd", *train(f"{prefix}-kd", seed, "kd", retrained, context))
    for arm, fit in [(arm, fit) for fit in (False, True) for arm in RETRIEVING]:
        name = f"{prefix}-{arm}{FIT if fit else ''}"
        if wanted(name):
            record(name, *add_without_retraining(seed, arm, fit, small, seen, "recurring", context))


def add_without_retraining(
    seed: int,
    arm: str,
    fit: bool,
    small: int,
    new: list[Knowledge],
    folder: str,
    context: dict[str, Any],
) -> tuple[Any, Any, float]:
    """(student, retriever, CPU seconds): the ``arm`` student trained on the
    first ``small`` entries with ``new`` added to what it retrieves from
    (fixed keys: the store encodes them; learned: the student does, its keys
    written under ``work/<folder>``), lam chosen again on them with ``fit``."""
    student, retriever, _ = train(
        f"size{small}-{arm}", seed, arm, context["entries"][:small], context
    )
    start = time.process_time()
    if ARMS[arm][0] == "store":
        retriever.stores[0].add(new)
    else:
        keys = context["work"] / folder / context["width"] / f"{arm}-s{seed}"
        keys.mkdir(parents=True, exist_ok=True)
        student.add_own_keys(new, keys)
        retriever = student.own_retriever()
    if fit:
        student.fit_mixing(new, retriever)
    return student, retriever, time.process_time() - start


def recurring_queries(
    run: RunDir, evaluation: list[Example], share: float
) -> tuple[list[Knowledge], np.ndarray, np.ndarray]:
    """The texts of a random ``share`` of ``evaluation`` (gold labels dropped)
    with the distributions the run's teacher gave them when it was evaluated
    (``stages/teacher/eval_predictions.json``), the mask of those examples,
    and the teacher's distribution for every eval example."""
    recorded = run.read_json(run.stage("teacher") / "eval_predictions.json")
    by_id = dict(zip(recorded["ids"], recorded["probs"], strict=True))
    teacher = np.asarray([by_id[e.id] for e in evaluation])
    order = list(range(len(evaluation)))
    random.Random(0).shuffle(order)
    chosen = sorted(order[: round(share * len(evaluation))])
    mask = np.zeros(len(evaluation), dtype=bool)
    mask[chosen] = True
    seen = [
        Knowledge(
            evaluation[i].text,
            text_pair=evaluation[i].text_pair,
            teacher_probs=tuple(float(p) for p in teacher[i]),
            source="corpus",
            provenance={"file": "eval texts, labels dropped"},
            id=f"q{i:06d}",
        )
        for i in chosen
    ]
    return seen, mask, teacher


def recurring_table(results: dict[str, dict[str, Any]], teacher: dict[str, float]) -> str:
    # KD before and after retraining first, then the retrieving arms.
    arms = sorted(
        {arm for rows in results.values() for arm in rows if arm.startswith("recurring")},
        key=lambda arm: (not arm.endswith("-kd-before"), not arm.endswith("-kd"), arm),
    )
    lines = [
        "| arm | eval split | recurring half | new half | lam | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| teacher | {100 * teacher['all']:.1f} | {100 * teacher['recurring']:.1f} "
        f"| {100 * teacher['new']:.1f} | - | - |",
    ]
    for arm in arms:
        rows = [results[seed][arm] for seed in results if arm in results[seed]]
        lam = [r["lam"] for r in rows if "lam" in r]
        cells = [
            arm,
            summary([r["accuracy"] for r in rows]),
            summary([r["recurring_accuracy"] for r in rows]),
            summary([r["new_accuracy"] for r in rows]),
            f"{statistics.mean(lam):.2f}" if lam else "-",
            f"{statistics.mean(r['cpu_seconds'] for r in rows):,.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memorised_lines(results: dict[str, dict[str, Any]]) -> str:
    """One line per KD arm that measured ``memorised``."""
    arms = sorted(
        {arm for rows in results.values() for arm, row in rows.items() if "memorised" in row}
    )
    lines = []
    for arm in arms:
        shares = [results[seed][arm]["memorised"] for seed in results if arm in results[seed]]
        lines.append(
            f"{arm}: predicts its teacher's label on {summary(shares)}% of its training entries"
        )
    return "\n".join(lines)


def summary(values: list[float]) -> str:
    mean = 100 * statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def mean_of(rows: list[dict[str, Any]], key: str, form: str, scale: float = 1.0) -> str:
    """The mean of ``key`` over the rows that recorded it (rows measured
    before it was recorded have none), formatted; "-" if none did."""
    values = [r[key] for r in rows if r.get(key) is not None]
    return form.format(scale * statistics.mean(values)) if values else "-"


def table(results: dict[str, dict[str, Any]]) -> str:
    def order(arm: str) -> tuple[int, int, int]:
        regime, size, suffix = re.fullmatch(r"([a-z]+)(\d+)[a-z0-9]*-(.+)", arm).groups()
        return ("size", "sample", "added").index(regime), int(size), ORDER.index(suffix)

    arms = sorted(
        {arm for rows in results.values() for arm in rows if not arm.startswith("recurring")},
        key=order,
    )
    lines = [
        "| arm | accuracy | own alone | lam | λ ceiling | CPU s | params | store MB | examples/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in arms:
        rows = [results[seed][arm] for seed in results if arm in results[seed]]
        lam = [r["lam"] for r in rows if "lam" in r]
        ceiling = [r["ceiling"] for r in rows if "ceiling" in r]
        cells = [
            f"{arm} ({len(rows)} seeds)" if len(rows) < len(results) else arm,
            summary([r["accuracy"] for r in rows]),
            summary([r["own"] for r in rows]),
            f"{statistics.mean(lam):.2f}" if lam else "-",
            summary(ceiling) if ceiling else "-",
            f"{statistics.mean(r['cpu_seconds'] for r in rows):,.1f}",
            mean_of(rows, "parameters", "{:,.0f}"),
            mean_of(rows, "store_bytes", "{:.1f}", scale=1e-6),
            mean_of(rows, "examples_per_s", "{:,.0f}"),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished SST-2 run")
    parser.add_argument("--data-dir", default="../shared/data", help="holds sst2/")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=STUDENT["epochs"], help="student epochs")
    parser.add_argument(
        "--d-model",
        type=int,
        default=STUDENT["d_model"],
        help="student width; other widths keep their students under --work/students/d<width>",
    )
    parser.add_argument(
        "--entry-budget",
        type=int,
        default=0,
        help="at most this many entries seen in training (epochs x entries trained on); "
        "students of larger stores train for fewer epochs. 0: --epochs always",
    )
    parser.add_argument(
        "--siblings",
        action="store_true",
        help="also measure how many store entries (and eval texts) overlap an entry's "
        "text, for each size",
    )
    parser.add_argument(
        "--recurring",
        type=float,
        default=0.5,
        help="share of the eval texts that recur (labelled by the teacher, added to the "
        "store); 0 skips the regime",
    )
    parser.add_argument("--work", type=Path, default=Path("runs/retrieval-value"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/retrieval-value.json"))
    parser.add_argument(
        "--only",
        nargs="+",
        default=["*"],
        help="arm name patterns to measure (e.g. 'size2000-*'); results of other arms "
        "already in --out are kept",
    )
    args = parser.parse_args()
    STUDENT["epochs"] = args.epochs
    default_width = STUDENT["d_model"]
    STUDENT["d_model"] = args.d_model
    from retrikt_students import static_vectors

    static_vectors.vectors(STUDENT["d_model"])  # built or read once, outside any arm's CPU time
    args.work.mkdir(parents=True, exist_ok=True)
    run = RunDir(args.run)
    plugins = get_plugins()
    teacher = run.load("teacher", "teacher", "teacher", plugins)
    task = SST2Task(PresetOptions(data_dir=args.data_dir))
    entries = transfer_set(run, task, max(args.sizes), args.work, teacher)
    evaluation = run.read_examples("prepare", "eval.jsonl")
    seen, mask, teacher_probs = recurring_queries(run, evaluation, args.recurring)
    gold = np.array([e.label for e in evaluation])
    right = teacher_probs.argmax(1) == gold
    teacher_accuracy = {
        "all": float(right.mean()),
        "recurring": float(right[mask].mean()) if mask.any() else 0.0,
        "new": float(right[~mask].mean()),
    }
    context = {
        "work": args.work,
        # Students of another width are kept apart from the default ones.
        "width": "" if args.d_model == default_width else f"d{args.d_model}",
        "task": task,
        "kshot": run.read_examples("prepare", "kshot.jsonl"),
        "eval": evaluation,
        "recurring": seen,
        "recurring_mask": mask,
        "entries": entries,
        "states": lambda: teacher_states(entries, args.work, teacher),
        "minilm": MiniLMKeys(args.work),
        "entry_budget": args.entry_budget,
    }
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    same = previous.get("sizes") == args.sizes
    results = previous.get("results", {}) if same else {}
    siblings = previous.get("siblings", {}) if same else {}
    if args.siblings:
        for size in args.sizes:
            siblings[str(size)] = sibling_shares(entries[:size], evaluation)
            print(
                f"{size} entries: {100 * siblings[str(size)]['store']:.1f}% overlap another "
                f"entry; {100 * siblings[str(size)]['eval']:.1f}% of eval texts overlap one",
                flush=True,
            )

    def wanted(name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in args.only)

    for seed in args.seeds:
        measured = measure_seed(seed, sorted(args.sizes), context, wanted)
        results[str(seed)] = {**results.get(str(seed), {}), **measured}
        atomic_write_json(
            args.out,
            {
                "run": str(args.run),
                "sizes": args.sizes,
                "seeds": sorted(set(args.seeds) | {int(seed) for seed in results}),
                "student": STUDENT,
                "entry_budget": args.entry_budget,
                "k": K,
                "recurring": {"share": args.recurring, "teacher": teacher_accuracy},
                "siblings": siblings,
                "results": results,
            },
        )
    print(table(results))
    print(memorised_lines(results))
    if seen:
        print(recurring_table(results, teacher_accuracy))


if __name__ == "__main__":
    main()
