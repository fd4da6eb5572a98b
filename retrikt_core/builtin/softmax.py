"""Multinomial logistic regression trained with Adam on soft targets (numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrikt_core.api import track


@dataclass
class SoftmaxModel:
    weight: np.ndarray  # [dim, C]
    bias: np.ndarray  # [C]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.logits(x))

    @property
    def num_parameters(self) -> int:
        return int(self.weight.size + self.bias.size)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Teacher distributions sharpened (T < 1) or flattened (T > 1)."""
    logp = np.log(np.clip(probs, 1e-9, 1.0)) / temperature
    return softmax(logp)


def train_softmax(
    x: np.ndarray,
    targets: np.ndarray,
    sample_weight: np.ndarray,
    *,
    epochs: int,
    lr: float,
    l2: float,
    description: str = "training",
) -> SoftmaxModel:
    """Minimise weighted soft cross-entropy + ``l2/2 * |W|^2`` by full-batch Adam."""
    x = np.asarray(x, dtype=np.float64)  # once, not an implicit upcast every step
    dim, classes = x.shape[1], targets.shape[1]
    model = SoftmaxModel(np.zeros((dim, classes), np.float64), np.zeros(classes, np.float64))
    w = sample_weight / sample_weight.sum()
    params = [model.weight, model.bias]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in track(range(1, epochs + 1), description, total=epochs):
        probs = model.predict_proba(x)
        residual = (probs - targets) * w[:, None]
        grads = [x.T @ residual + l2 * model.weight, residual.sum(axis=0)]
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= beta1
            mi += (1 - beta1) * g
            vi *= beta2
            vi += (1 - beta2) * g * g
            p -= lr * (mi / (1 - beta1**step)) / (np.sqrt(vi / (1 - beta2**step)) + eps)
    return model
