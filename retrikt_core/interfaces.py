"""Component contracts: what a plugin implements for each kind.

Every component class has a ``name`` (what a config's ``plugin = "..."``
names), an ``Options`` dataclass (the options its config section accepts,
validated before any work starts) and is built as ``Cls(options)``.
Components that carry state persist it with ``save_pretrained(dir)`` and
``Cls.from_pretrained(dir)``, as in Hugging Face transformers/peft.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from retrikt_core.atomic import atomic_write_json
from retrikt_core.devices import saved_artifact
from retrikt_core.errors import ArtifactError, ConfigError, TaskDataError
from retrikt_core.records import Example, Knowledge, Neighbors


@dataclass
class NoOptions:
    """Options of a component that takes none."""


COMPONENT_FILE = "component.json"


class Component(ABC):  # noqa: B024 (kinds below declare the abstract methods)
    """Base of every component kind."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def describe(cls) -> str:
        """One line for listings: the first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def save_pretrained(self, path: str | Path) -> None:
        """Write the component (name, options, state) into directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        options = asdict(self.options) if is_dataclass(self.options) else {}
        atomic_write_json(
            path / COMPONENT_FILE, {"kind": self.kind, "name": self.name, "options": options}
        )
        self.save_state(path)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> Component:
        """Rebuild a component written by :meth:`save_pretrained`."""
        path = Path(path)
        meta = read_component_meta(path)
        known = {f.name for f in fields(cls.Options)}
        # What was saved on a GPU loads where there is none (on the CPU).
        with saved_artifact():
            options = cls.Options(**{k: v for k, v in meta["options"].items() if k in known})
            component = cls(options)
            component.load_state(path)
        return component

    def save_state(self, path: Path) -> None:  # noqa: B027 (optional hook)
        """Write learned state under ``path``; stateless components write nothing."""

    def load_state(self, path: Path) -> None:  # noqa: B027 (optional hook)
        """Read what :meth:`save_state` wrote."""


def read_component_meta(path: Path) -> dict[str, Any]:
    meta_path = Path(path) / COMPONENT_FILE
    if not meta_path.is_file():
        raise ArtifactError(f"{meta_path}: missing; not a saved retrikt component")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: not readable JSON ({exc}); it is damaged") from None
    if not isinstance(meta, dict) or "name" not in meta:
        raise ArtifactError(f"{meta_path}: not a retrikt component record")
    return meta


class Task(Component):
    """Where labelled examples come from.

    Subclasses set ``label_names`` (index order = label index), ``verbalizers``
    (one word per label, for LLM prompts and verbalizer teachers), ``is_pair``
    and ``description``, and implement :meth:`load`.
    """

    kind = "task"
    label_names: list[str]
    verbalizers: list[str]
    is_pair: bool = False
    description: str = ""
    field_names: tuple[str, ...] = ("sentence",)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def train_split(self) -> str:
        return getattr(self.options, "train_split", "train")

    @property
    def eval_split(self) -> str:
        return getattr(self.options, "eval_split", "validation")

    @property
    def k_shot(self) -> int:
        return getattr(self.options, "k_shot", 16)

    @abstractmethod
    def load(self, split: str) -> list[Example]:
        """All examples of ``split``, with label indices."""

    def check(self) -> None:
        """Cheap checks before any work (files exist, fields set); raise ConfigError."""

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data behind the task (files, sizes, times); part of
        the ``prepare`` stage's key so that changed data is prepared again."""
        return {}

    def data_report(self, split: str) -> dict[str, Any] | None:
        """What reading ``split`` decided (format, header and why, rows, skipped
        lines), once :meth:`load` has read it; None if the task keeps no such
        record. ``prepare`` writes it to the manifest."""
        return None

    def sample_k_shot(self, examples: Sequence[Example], k: int, seed: int) -> list[Example]:
        """Seeded sample of ``k`` examples per label, in a stable order."""
        by_label: dict[int, list[Example]] = {i: [] for i in range(self.num_labels)}
        for example in examples:
            if example.label is None:
                raise TaskDataError(f"example {example.id!r} has no label")
            by_label[example.label].append(example)
        rng = random.Random(seed)
        chosen: list[Example] = []
        for label, pool in by_label.items():
            if len(pool) < k:
                raise TaskDataError(
                    f"task {self.name!r}: label {self.label_names[label]!r} has "
                    f"{len(pool)} examples in split {self.train_split!r}, fewer than k_shot={k}"
                )
            chosen.extend(rng.sample(pool, k))
        return chosen


class KnowledgeGenerator(Component):
    """Where knowledge text comes from: an LLM that writes samples, or a corpus.

    ``conditional`` generators write text for a requested label
    (``generate(label, n)``); unconditional ones (corpora) are called with
    ``label=None`` and the teacher alone labels what they give.
    """

    kind = "generator"
    conditional: ClassVar[bool] = True
    source: ClassVar[str] = "generator"
    #: Whether samples are drawn independently, so that a request may be cut
    #: into chunks, each with a seed of its own, drawn on any worker (an LLM);
    #: a corpus samples without replacement and is asked once.
    seeded_chunks: ClassVar[bool] = False

    @abstractmethod
    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        """Adapt to the task (soft-prompt tuning); returns stats for the manifest."""

    @abstractmethod
    def generate(self, label: int | None, n: int, *, seed: int) -> list[Knowledge]:
        """``n`` new entries for ``label`` (or unlabelled when ``label`` is None).
        The pipeline labels them with the teacher, except entries that already
        carry the distribution of this very teacher (``provenance["labelled_by"]``
        is its digest, as for knowledge taken from a finished run)."""

    def policy(self) -> Any | None:
        """The policy view that an RL optimizer trains, or None if there is none."""
        return None

    def check(self, task: Task, n: int) -> None:
        """Cheap checks before any model loads (files, fields, enough text for
        ``n`` entries); raise ConfigError naming the option. Optional."""

    def fingerprint(self) -> Any | None:
        """The content identity of the files ``fit`` reads (None: nothing beyond
        the config and the task), so that a changed file refits the source."""
        return None


class Teacher(Component):
    """Judges samples: a distribution over the task's labels for each input."""

    kind = "teacher"

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        """Fit or calibrate on the k-shot examples (optional)."""
        return {}

    @abstractmethod
    def predict_proba(self, examples: list[Example]) -> list[list[float]]:
        """``[n][num_labels]`` label probabilities."""

    @abstractmethod
    def num_parameters(self) -> int:
        """Parameters used at inference."""

    def embed(self, examples: list[Example]) -> list[list[float]]:
        """Optional: the teacher's pooled hidden state per input (the vector its
        decision is read from), for students that learn to match it."""
        raise NotImplementedError(f"teacher {self.name!r} has no hidden states")


RewardFn = Callable[[list[Knowledge]], list[float]]


@dataclass
class Rollout:
    """Samples of one label with their token ids and sampling-time log-probs
    (tensors of the policy's library: ``logprobs`` and ``mask`` are ``[n, T]``)."""

    label: int
    samples: list[Knowledge]
    sequences: list[list[int]]
    logprobs: Any
    mask: Any
    extra: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """What an RL optimizer trains: a generator's policy view (only its
    trainable parameters change; the reference is the policy as it started)."""

    num_labels: int

    def parameters(self) -> list[Any]:
        """Trainable tensors."""

    def sample(self, label: int, n: int, *, seed: int) -> Rollout:
        """Sample ``n`` sequences for ``label`` with their log-probs."""

    def score(
        self, label: int, sequences: list[list[int]], reference: bool = False, hidden: bool = False
    ) -> tuple[Any, ...]:
        """``(logprobs [n, T], mask [n, T])`` under the current (or reference)
        policy, plus ``hidden [n, T, H]`` features for a value head if asked."""


class RLOptimizer(Component):
    """Improves a generator's policy against a reward; ``none`` is a valid optimizer."""

    kind = "optimizer"

    @abstractmethod
    def optimize(
        self, generator: KnowledgeGenerator, reward: RewardFn | None, *, task: Task, seed: int
    ) -> list[dict[str, float]]:
        """Update ``generator`` in place; returns one history row per step."""


class KnowledgeStore(Component):
    """Holds knowledge entries and finds those nearest a query.

    Entries are searched by the store's own keys (dense vectors from an
    encoder, or terms for a sparse store). A query whose ``id`` equals an
    entry's id never gets that entry back (self-exclusion during training).
    """

    kind = "store"
    #: Whether keys are dense vectors computed from each entry alone
    #: (:meth:`encode`), so that an executor may encode them on its workers
    #: and :meth:`add_encoded` take them; sparse stores keep their own terms.
    dense_keys: ClassVar[bool] = False

    @abstractmethod
    def add(self, entries: list[Knowledge]) -> None:
        """Add entries (their ids must be unique within the store)."""

    @property
    def costly_keys(self) -> bool:
        """Whether encoding keys is worth handing to the run's executor (a
        neural encoder); cheap keys (hashed n-grams) are computed in place."""
        return False

    @property
    def key_batch(self) -> int:
        """Rows the encoder computes together (padding is per batch): shards
        of keys hold whole batches, so a key does not depend on the shard size."""
        return 1

    def encode(self, examples: list[Example]) -> Any:
        """The dense keys (float32, one row per example) of a ``dense_keys`` store."""
        raise NotImplementedError(f"the {self.name} store has no dense keys")

    def add_encoded(self, entries: list[Knowledge], keys: Any) -> None:
        """Add entries whose keys :meth:`encode` computed elsewhere (same options)."""
        raise NotImplementedError(f"the {self.name} store has no dense keys")

    @abstractmethod
    def search(self, queries: list[Example], k: int) -> Neighbors:
        """Up to ``k`` nearest entries per query, best first, self excluded."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def entries(self) -> list[Knowledge]:
        """All entries, in insertion order."""

    def query_encoder_parameters(self) -> int:
        """Parameters run to encode a query (a neural encoder's; 0 for hashing or
        BM25). They count toward a retrieving student's size; the entries do not."""
        return 0


class Retriever(Component):
    """Query policy over one or more stores."""

    kind = "retriever"

    def bind(self, stores: list[KnowledgeStore]) -> None:
        if not stores:
            raise ValueError(f"retriever {self.name!r} needs at least one store")
        self.stores = stores

    @property
    def k(self) -> int:
        return getattr(self.options, "k", 16)

    @abstractmethod
    def retrieve(self, examples: list[Example], k: int | None = None) -> Neighbors:
        """Neighbours of each example across the bound stores, self excluded."""


class Student(Component):
    """The tiny model: trained on k-shot labels and teacher-labelled knowledge,
    it combines its own prediction with retrieved neighbours' labels."""

    kind = "student"

    @abstractmethod
    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
        teacher_states: Any = None,
    ) -> dict[str, Any]:
        """Train. With ``retriever`` None it must not use retrieval (baselines).
        ``teacher_states`` (``[len(knowledge), D]``, from :meth:`Teacher.embed`)
        is given only to a student whose :meth:`wants_teacher_states` is true."""

    def wants_teacher_states(self) -> bool:
        """Whether :meth:`fit` should get the teacher's hidden states of the knowledge."""
        return False

    #: Whether it learns from the knowledge (kd and retrikt methods); one that
    #: learns from the k-shot examples alone (SetFit) is a run's [baseline].
    learns_from_knowledge: ClassVar[bool] = True

    def check(self) -> None:
        """Cheap checks before any stage (an optional package or model wheel
        it needs is installed); raise ConfigError naming the option and what
        to install. Optional."""

    def check_teacher(self, teacher: type[Teacher]) -> None:
        """Raise :class:`~retrikt_core.errors.ConfigError` if this student cannot
        learn from ``teacher`` (checked before any stage runs). By default: a
        student that wants hidden states needs a teacher that implements
        :meth:`Teacher.embed`. Override to name your own option in the message."""
        if self.wants_teacher_states() and teacher.embed is Teacher.embed:
            raise ConfigError(
                f"student {self.name!r} matches the teacher's hidden states, but teacher "
                f"{teacher.name!r} has none (it does not implement embed)"
            )

    @abstractmethod
    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        """Own prediction, interpolated with neighbours' labels when given."""

    @abstractmethod
    def num_parameters(self) -> int:
        """Everything run at inference (encoder, prompt, head, query encoder)."""

    def own_retriever(self) -> Retriever | None:
        """The retriever of a student that learned to retrieve in its own
        representation space (it encodes queries, and keys it saved with its
        weights), used in place of the run's retriever wherever the student
        predicts: evaluation, bundles, ``retrikt predict``. None (the default)
        means the student is given the run's retriever's neighbours."""
        return None

    def add_own_keys(self, entries: list[Knowledge], path: Path) -> bool:
        """Knowledge added after training (``retrikt store add``): a student
        with its own retriever encodes ``entries`` as keys beside its others
        and rewrites its key files in ``path`` (its ``save_pretrained``
        folder); True if it did. The default, for a student that is given
        the run's retriever's neighbours, does nothing."""
        return False

    def fit_mixing(self, entries: list[Knowledge], retriever: Retriever) -> bool:
        """Choose ``lam`` and the neighbour temperature again (those its
        options leave free) on labelled ``entries`` it never trained on, such
        as knowledge added after training, whose neighbours ``retriever``
        finds (each entry's own left out); True if it did. The default, for
        a student with no interpolation settings, does nothing."""
        return False

    def encode(self, examples: list[Example]) -> list[list[float]]:
        """Dense keys for a store; students without an encoder raise."""
        raise NotImplementedError(f"student {self.name!r} has no encoder")

    def export_onnx(self, path: Path, quantize: str | None = None) -> dict[str, str]:
        """Optional: write the student's own model (encoder and head, not the
        retrieval) as ONNX into ``path``, beside :meth:`save_pretrained`'s
        files, and, with ``quantize="int8"``, a dynamically quantised copy.
        Returns ``{runtime: file name}``, e.g. ``{"onnx": "model.onnx",
        "onnx-int8": "model.int8.onnx"}``; :meth:`from_onnx` loads each."""
        raise NotImplementedError(f"student {self.name!r} has no ONNX export")

    @classmethod
    def from_onnx(cls, path: Path, file: str) -> Student:
        """Optional: an inference-only student that runs ``path / file`` (written
        by :meth:`export_onnx`) with onnxruntime and predicts like the original."""
        raise NotImplementedError(f"student {cls.name!r} has no ONNX runtime")


class RewardTerm(Component):
    """One term of the RL reward, weighted in config."""

    kind = "reward"

    @abstractmethod
    def score(self, samples: list[Knowledge], context: dict[str, Any]) -> list[float]:
        """One score per sample (higher is better)."""
