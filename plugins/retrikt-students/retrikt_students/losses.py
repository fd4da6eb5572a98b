"""Training targets of a distilled student, one row per training input.

A k-shot example's target is its gold label. A knowledge entry's target mixes
soft distillation (the teacher's distribution, sharpened or flattened by a
temperature) and hard distillation (the teacher's argmax), as XtremeDistil
trains its students; cross-entropy is linear in the target, so the mixture
equals the weighted sum of the two losses.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def soft_targets(
    probs: Sequence[Sequence[float]] | torch.Tensor, temperature: float
) -> torch.Tensor:
    """``softmax(log p / T)`` row-wise: ``T > 1`` flattens, ``T < 1`` sharpens."""
    logp = torch.log(torch.as_tensor(probs, dtype=torch.float32).clamp(min=1e-9)) / temperature
    return logp.softmax(-1)


def hard_targets(probs: Sequence[Sequence[float]] | torch.Tensor) -> torch.Tensor:
    """One-hot rows of the teacher's most probable label."""
    probs = torch.as_tensor(probs, dtype=torch.float32)
    return torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).float()


def knowledge_targets(
    probs: Sequence[Sequence[float]],
    temperature: float,
    soft_weight: float,
    hard_weight: float,
) -> tuple[torch.Tensor, float]:
    """``(targets, weight)``: the normalised mixture of soft and hard targets and
    the total weight, so ``weight * CE(targets)`` equals
    ``soft_weight * CE(soft) + hard_weight * CE(hard)``."""
    total = soft_weight + hard_weight
    if total <= 0:
        raise ValueError("soft_weight + hard_weight must be > 0")
    mixed = soft_weight * soft_targets(probs, temperature) + hard_weight * hard_targets(probs)
    return mixed / total, total


def cross_entropy_rows(targets: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """Per-row ``-sum_c target_c log p_c``."""
    return -(targets * log_probs).sum(-1)


def hidden_match_rows(projected: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Per-row cosine distance ``1 - cos(W h_student, h_teacher)`` between the
    student's projected pooled state and the teacher's hidden state: scale-free,
    so the teacher's large activations need no normalising constant."""
    return 1.0 - torch.nn.functional.cosine_similarity(projected, states, dim=-1)
