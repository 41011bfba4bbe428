"""The REINFORCE term that trains hard attention's choice of coarse cell.

Reward r_t is the log-likelihood of the gold token at step t; the return of step t is the
discounted sum Σ_{k≥t} γ^{k−t} r_k (γ = 0.5 in the paper), and a moving-average baseline
per time step (rate 0.01) is subtracted to reduce variance. An entropy bonus keeps the
policy from collapsing onto one cell too early.
"""

from __future__ import annotations

import torch
from torch import Tensor


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """R_t = Σ_{k≥t} γ^{k−t} r_k over the real steps of each row (`B×T`)."""
    rewards = rewards * mask
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.size(1) - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns * mask


def reinforce_loss(
    gold_log_probs: Tensor,
    policy_log_probs: Tensor,
    entropy: Tensor,
    mask: Tensor,
    baseline: Tensor,
    gamma: float,
    baseline_rate: float,
    entropy_weight: float,
    update_baseline: bool,
) -> tuple[Tensor, dict[str, float]]:
    """Policy-gradient loss (mean over real steps) and its statistics.

    All step tensors are `B×T`; `baseline` is the per-step buffer, updated in place with
    the batch's mean return when `update_baseline` (training mode). Steps past the
    buffer's length share its last entry.
    """
    mask = mask.to(gold_log_probs.dtype)
    n_steps = mask.sum().clamp(min=1)
    returns = discounted_returns(gold_log_probs.detach(), mask, gamma)
    index = torch.arange(returns.size(1), device=returns.device).clamp(max=baseline.numel() - 1)
    step_baseline = baseline[index]
    advantage = (returns - step_baseline) * mask
    policy = -(advantage.detach() * policy_log_probs * mask).sum() / n_steps
    bonus = (entropy * mask).sum() / n_steps
    if update_baseline:
        with torch.no_grad():
            counts = mask.sum(0)
            seen = counts > 0
            mean_return = returns.sum(0) / counts.clamp(min=1)
            updated = (1 - baseline_rate) * step_baseline + baseline_rate * mean_return
            baseline[index[seen]] = updated[seen].to(baseline.dtype)
    stats = {
        "reinforce_reward": float((gold_log_probs.detach() * mask).sum() / n_steps),
        "reinforce_return": float((returns * mask).sum() / n_steps),
        "reinforce_baseline": float((step_baseline * mask).sum() / n_steps),
        "reinforce_entropy": float(bonus.detach()),
    }
    return policy - entropy_weight * bonus, stats
