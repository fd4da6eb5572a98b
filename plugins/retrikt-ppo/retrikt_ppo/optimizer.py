"""The ``ppo`` RL optimizer: clipped PPO with a value head, GAE, and a
(adaptive) KL penalty to the reference prompts, on the policy's trainable
parameters only."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from retrikt_core.api import KnowledgeGenerator, Policy, RewardFn, RLOptimizer, Task, option, track


@dataclass
class PPOOptions:
    steps: int = option(12, "PPO iterations (each samples a rollout per label)", minimum=0)
    rollout_size: int = option(16, "samples per label per iteration", minimum=1)
    ppo_epochs: int = option(4, "optimisation passes over each rollout", minimum=1)
    minibatch_size: int = option(8, "samples per gradient step", minimum=1)
    # 0.01 (the supervised tuning's scale) moved CB's policy 13 nats per sequence in
    # one Adam step and every later sample was degenerate; 0.001 kept SST-2's and
    # CB's KL near or under target (CHANGELOG.md, the PPO learning rate).
    lr: float = option(0.001, "Adam learning rate for the policy parameters", minimum=0.0)
    value_lr: float = option(0.001, "Adam learning rate for the value head", minimum=0.0)
    clip: float = option(0.2, "PPO ratio clipping", minimum=0.0)
    value_coef: float = option(0.5, "weight of the value loss", minimum=0.0)
    gamma: float = option(1.0, "discount", minimum=0.0, maximum=1.0)
    lam: float = option(0.95, "GAE lambda", minimum=0.0, maximum=1.0)
    kl_coef: float = option(0.05, "initial KL penalty coefficient (per token)", minimum=0.0)
    target_kl: float = option(
        4.0, "per-sequence KL the adaptive controller aims at; 0 = fixed", minimum=0.0
    )
    # Ziegler et al.'s 10,000 suits runs of many thousand samples; the default run
    # draws 12 x 2 x 16 = 384, and a horizon of 32 lets beta grow up to ~10x in it.
    kl_horizon: int = option(
        32, "adaptive KL horizon, in samples (smaller = beta reacts faster)", minimum=1
    )
    max_grad_norm: float = option(1.0, "gradient clipping", minimum=0.0)
    # A soft prompt sits at the scale of token embeddings, so a few Adam steps can
    # rewrite it; this bounds how far one rollout may take the policy.
    max_update_kl: float = option(
        0.02,
        "stop optimising a rollout once the policy has moved this far from the one "
        "that sampled it (mean per-token KL estimate); 0 = never stop",
        minimum=0.0,
    )


class PPOOptimizer(RLOptimizer):
    """Clipped PPO on soft-prompt parameters, KL-regularised to the supervised prompts."""

    name = "ppo"
    Options = PPOOptions

    def optimize(
        self, generator: KnowledgeGenerator, reward: RewardFn | None, *, task: Task, seed: int
    ) -> list[dict[str, float]]:
        if reward is None:
            raise ValueError("ppo needs a reward (a conditional generator and a teacher)")
        policy = generator.policy()
        if policy is None:
            raise ValueError(f"generator {generator.name!r} has no policy view to train")
        return train_ppo(policy, reward, self.options, seed=seed)


def train_ppo(
    policy: Policy, reward: RewardFn, o: PPOOptions, *, seed: int, labels: list[int] | None = None
) -> list[dict[str, float]]:
    """Run PPO on ``policy``; returns one history row per (step, label)."""
    import torch

    from retrikt_ppo.algorithm import (
        AdaptiveKLController,
        approx_kl,
        clipped_policy_loss,
        gae,
        masked_mean,
        whiten,
    )

    torch.manual_seed(seed)
    labels = list(range(policy.num_labels)) if labels is None else labels
    value_head: torch.nn.Module | None = None
    kl = AdaptiveKLController(o.kl_coef, o.target_kl or None, o.kl_horizon)
    params = policy.parameters()
    optimizer = torch.optim.Adam(params, lr=o.lr)
    value_optimizer = None
    history: list[dict[str, float]] = []
    rng = random.Random(seed)
    for step in track(range(o.steps), "reinforce: PPO"):
        for label in labels:
            rollout = policy.sample(label, o.rollout_size, seed=seed + 1000 * step + label)
            if hasattr(reward, "score"):
                totals, terms = reward.score(rollout.samples)
            else:
                totals, terms = reward(rollout.samples), {}
            sequences, mask = rollout.sequences, rollout.mask.float()
            with torch.no_grad():
                ref_logp, _ = policy.score(label, sequences, reference=True)
                _, _, hidden = policy.score(label, sequences, hidden=True)
            if value_head is None:
                value_head = torch.nn.Linear(hidden.shape[-1], 1).to(hidden.device)
                value_optimizer = torch.optim.Adam(value_head.parameters(), lr=o.value_lr)
            old_logp = rollout.logprobs.detach()
            token_kl = (old_logp - ref_logp) * mask
            with torch.no_grad():
                values = value_head(hidden).squeeze(-1) * mask
            token_rewards = -kl.value * token_kl
            last = (mask.sum(1) - 1).clamp(min=0).long()
            rows = torch.arange(len(sequences), device=mask.device)
            has_tokens = mask.sum(1) > 0
            token_rewards[rows[has_tokens], last[has_tokens]] += torch.tensor(
                totals, dtype=token_rewards.dtype, device=mask.device
            )[has_tokens]
            advantages, returns = gae(token_rewards, values, mask, o.gamma, o.lam)
            advantages = whiten(advantages, mask)
            stats = {
                "policy_loss": 0.0,
                "value_loss": 0.0,
                "clip_fraction": 0.0,
                "entropy": 0.0,
                "update_kl": 0.0,
            }
            updates = 0
            for idx in minibatches(len(sequences), o.ppo_epochs, o.minibatch_size, rng):
                batch = [sequences[i] for i in idx]
                logp, _, states = policy.score(label, batch, hidden=True)
                width = logp.shape[1]
                m = mask[idx][:, :width]
                moved = approx_kl(logp.detach(), old_logp[idx][:, :width], m).item()
                if o.max_update_kl and moved > o.max_update_kl:
                    break  # as far as this rollout may take the policy
                pg_loss, clip_fraction = clipped_policy_loss(
                    logp, old_logp[idx][:, :width], advantages[idx][:, :width], m, o.clip
                )
                v = value_head(states.detach()).squeeze(-1)
                v_loss = masked_mean((v - returns[idx][:, :width]) ** 2, m)
                optimizer.zero_grad()
                value_optimizer.zero_grad()
                (pg_loss + o.value_coef * v_loss).backward()
                torch.nn.utils.clip_grad_norm_(params, o.max_grad_norm)
                optimizer.step()
                value_optimizer.step()
                stats["policy_loss"] += pg_loss.item()
                stats["value_loss"] += v_loss.item()
                stats["clip_fraction"] += clip_fraction.item()
                # Sampled-token estimate of the policy's entropy.
                stats["entropy"] += masked_mean(-logp.detach(), m).item()
                stats["update_kl"] += moved
                updates += 1
            sequence_kl = float(token_kl.sum(1).mean())
            kl.update(sequence_kl, len(sequences))
            row: dict[str, Any] = {
                "step": step,
                "label": label,
                "reward": float(sum(totals) / len(totals)),
                "kl": sequence_kl,
                "kl_coef": kl.value,
                **{k: v / max(updates, 1) for k, v in stats.items()},
                "updates": updates,
            }
            row.update({f"reward_{name}": float(sum(s) / len(s)) for name, s in terms.items()})
            history.append(row)
    return history


def minibatches(n: int, epochs: int, size: int, rng: random.Random) -> Iterator[list[int]]:
    """Indices of ``n`` samples in minibatches of ``size``, reshuffled each epoch
    (lazily, so stopping early draws no further shuffles)."""
    for _ in range(epochs):
        order = list(range(n))
        rng.shuffle(order)
        for start in range(0, n, size):
            yield order[start : start + size]
