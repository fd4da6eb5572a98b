"""Bag-of-n-grams teacher and retrieval student: dependency-free components
that run the whole method in seconds. Weak on their own (a linear model over
hashed n-grams), they exist so that the pipeline, the baselines and the
reports are real before the LLM and transformer plugins are installed."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrikt_core.api import (
    Example,
    Knowledge,
    Neighbors,
    Retriever,
    Student,
    Task,
    Teacher,
    choose_mixing,
    hashed_features,
    interpolate,
    option,
    store_texts,
    tune_interpolation,
)
from retrikt_core.builtin.softmax import SoftmaxModel, soften, train_softmax


def _save_model(model: SoftmaxModel, path: Path) -> None:
    with open(path / "weights.npz", "wb") as handle:
        np.savez(handle, weight=model.weight, bias=model.bias)


def _load_model(path: Path) -> SoftmaxModel:
    data = np.load(path / "weights.npz")
    return SoftmaxModel(data["weight"], data["bias"])


def _one_hot(labels: list[int], num_labels: int) -> np.ndarray:
    out = np.zeros((len(labels), num_labels))
    out[np.arange(len(labels)), labels] = 1.0
    return out


@dataclass
class BowTeacherOptions:
    dim: int = option(65536, "hashed feature dimension", minimum=1)
    ngram: int = option(2, "longest n-gram", minimum=1)
    epochs: int = option(300, "full-batch Adam steps", minimum=1)
    lr: float = option(0.05, "Adam learning rate", minimum=0.0)
    l2: float = option(1e-3, "L2 penalty", minimum=0.0)


class BowTeacher(Teacher):
    """Logistic regression over hashed n-grams, fit on the k-shot examples."""

    name = "bow-lr"
    Options = BowTeacherOptions

    model: SoftmaxModel | None = None

    def fit(self, task: Task, examples: list[Example], *, seed: int) -> dict[str, Any]:
        o = self.options
        x = hashed_features(examples, o.dim, o.ngram)
        y = _one_hot([e.label for e in examples], task.num_labels)
        self.model = train_softmax(
            x,
            y,
            np.ones(len(examples)),
            epochs=o.epochs,
            lr=o.lr,
            l2=o.l2,
            description="teacher: bow-lr",
        )
        train_acc = float(np.mean(self.model.predict_proba(x).argmax(1) == y.argmax(1)))
        return {"train_accuracy": train_acc}

    def predict_proba(self, examples: list[Example]) -> list[list[float]]:
        if self.model is None:
            raise RuntimeError("bow-lr teacher used before fit()")
        x = hashed_features(examples, self.options.dim, self.options.ngram)
        return self.model.predict_proba(x).tolist()

    def num_parameters(self) -> int:
        return self.model.num_parameters if self.model is not None else 0

    def save_state(self, path: Path) -> None:
        _save_model(self.model, path)

    def load_state(self, path: Path) -> None:
        self.model = _load_model(path)


@dataclass
class BowStudentOptions:
    dim: int = option(4096, "hashed feature dimension (parameters = dim x labels)", minimum=1)
    ngram: int = option(2, "longest n-gram", minimum=1)
    epochs: int = option(200, "full-batch Adam steps", minimum=1)
    lr: float = option(0.05, "Adam learning rate", minimum=0.0)
    l2: float = option(1e-4, "L2 penalty", minimum=0.0)
    kd_temperature: float = option(
        1.0, "temperature applied to teacher distributions", minimum=1e-6
    )
    kshot_weight: float = option(
        4.0, "weight of a k-shot example relative to a store entry", minimum=0.0
    )
    lam: float = option(
        -1.0, "interpolation weight; < 0 = tune on held-out k-shot data", maximum=1.0
    )
    knn_temperature: float = option(
        -1.0, "neighbour softmax temperature; <= 0 = tune", minimum=-1.0
    )


class BowKnnStudent(Student):
    """Linear student over hashed n-grams that interpolates with retrieved neighbours."""

    name = "bow-knn"
    Options = BowStudentOptions

    model: SoftmaxModel | None = None
    lam: float = 0.0
    knn_temperature: float = 1.0
    num_labels: int = 0

    def _train(
        self, examples: list[Example], knowledge: list[Knowledge], num_labels: int
    ) -> SoftmaxModel:
        o = self.options
        rows = [e for e in examples] + [k.example for k in knowledge]
        targets = [_one_hot([e.label for e in examples], num_labels)]
        weights = [np.full(len(examples), o.kshot_weight)]
        if knowledge:
            probs = np.asarray([k.teacher_probs for k in knowledge], dtype=np.float64)
            targets.append(soften(probs, o.kd_temperature))
            weights.append(np.ones(len(knowledge)))
        return train_softmax(
            hashed_features(rows, o.dim, o.ngram),
            np.concatenate(targets),
            np.concatenate(weights),
            epochs=o.epochs,
            lr=o.lr,
            l2=o.l2,
            description="student: bow-knn",
        )

    def fit(
        self,
        task: Task,
        examples: list[Example],
        knowledge: list[Knowledge],
        retriever: Retriever | None,
        *,
        seed: int,
    ) -> dict[str, Any]:
        o = self.options
        self.num_labels = task.num_labels
        stats: dict[str, Any] = {"train_examples": len(examples), "knowledge": len(knowledge)}
        if retriever is not None and (o.lam < 0 or o.knn_temperature <= 0):
            # Tune lam / temperature on half of the k-shot set, held out from a
            # preliminary student, so the student's fit to its own training data
            # does not bias lam toward 0.
            shuffled = list(examples)
            random.Random(seed).shuffle(shuffled)
            held, train = shuffled[::2], shuffled[1::2]
            self.model = self._train(train, knowledge, task.num_labels)
            own = self.predict_proba(held)
            lam, temp = tune_interpolation(
                np.asarray(own), retriever.retrieve(held), np.asarray([e.label for e in held])
            )
            self.lam = o.lam if o.lam >= 0 else lam
            self.knn_temperature = o.knn_temperature if o.knn_temperature > 0 else temp
        elif retriever is not None:
            self.lam, self.knn_temperature = o.lam, o.knn_temperature
        self.model = self._train(examples, knowledge, task.num_labels)
        if retriever is not None:
            stats.update(lam=self.lam, knn_temperature=self.knn_temperature)
        return stats

    def predict_proba(
        self, examples: list[Example], neighbors: Neighbors | None = None
    ) -> list[list[float]]:
        if self.model is None:
            raise RuntimeError("bow-knn student used before fit()")
        own = self.model.predict_proba(
            hashed_features(examples, self.options.dim, self.options.ngram)
        )
        if neighbors is None:
            return own.tolist()
        return interpolate(own, neighbors, self.lam, self.knn_temperature).tolist()

    def fit_mixing(self, entries: list[Knowledge], retriever: Retriever) -> bool:
        o = self.options
        # Added entries were never trained on: neighbours cut from the same
        # text as an entry are left out of its score, as a new query has none.
        chosen = choose_mixing(
            self.predict_proba,
            retriever.retrieve,
            entries,
            o.lam,
            o.knn_temperature,
            texts=store_texts(retriever),
        )
        if chosen is None:
            return False  # both fixed by the options: nothing to choose
        self.lam, self.knn_temperature = chosen
        return True

    def num_parameters(self) -> int:
        return self.model.num_parameters if self.model is not None else 0

    def save_state(self, path: Path) -> None:
        _save_model(self.model, path)
        state = {
            "lam": self.lam,
            "knn_temperature": self.knn_temperature,
            "num_labels": self.num_labels,
        }
        (path / "interpolation.json").write_text(json.dumps(state))

    def load_state(self, path: Path) -> None:
        self.model = _load_model(path)
        state = json.loads((path / "interpolation.json").read_text())
        self.lam = state["lam"]
        self.knn_temperature = state["knn_temperature"]
        self.num_labels = state["num_labels"]
