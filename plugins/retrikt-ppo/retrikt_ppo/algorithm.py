"""PPO building blocks on ``[n, T]`` token tensors with a validity mask."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over the valid tokens."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation; returns (advantages, returns).

    The value after a sequence's last valid token is 0 (episode end).
    """
    n, length = rewards.shape
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])  # on the rewards' device
    for t in reversed(range(length)):
        next_value = (
            values[:, t + 1] * mask[:, t + 1] if t + 1 < length else torch.zeros_like(running)
        )
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running * (mask[:, t + 1] if t + 1 < length else 0)
        advantages[:, t] = running * mask[:, t]
    return advantages, (advantages + values) * mask


def approx_kl(logp: torch.Tensor, old_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean per-token KL(old || new) from sampled tokens, ``(r - 1) - log r`` with
    ``r = p_new / p_old``: non-negative and low-variance (Schulman's k3)."""
    log_ratio = logp - old_logp
    return masked_mean(torch.exp(log_ratio) - 1 - log_ratio, mask)


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (to minimise) and the share of clipped tokens."""
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1 - clip, 1 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped > unclipped).float(), mask)
    return loss, clip_fraction


class AdaptiveKLController:
    """Ziegler et al. (2019): move beta so the observed KL tracks a target."""

    def __init__(self, init: float, target: float | None, horizon: int) -> None:
        self.value = init
        self.target = target
        self.horizon = horizon

    def update(self, kl: float, n_steps: int) -> None:
        if self.target is None:
            return
        error = max(-0.2, min(0.2, kl / self.target - 1.0))
        # At most halve or add half per update, so that a rollout much larger
        # than the horizon cannot drive beta to zero or below.
        self.value *= 1.0 + max(-0.5, min(0.5, error * n_steps / self.horizon))
