"""Learning-rate schedules and optimizers.

Two recipes: the paper's SGD (lr 0.1, halved whenever validation perplexity fails to improve)
and AdamW with linear warmup and cosine decay, the practical default on a CPU. One small
schedule object covers both, because the torch schedulers cannot combine a per-step warmup
with a per-validation halving without fighting over the learning rate.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from im2markup.training.config import TrainConfig


def build_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by `cfg.optimizer`."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    return torch.optim.AdamW(
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
    )


class LRSchedule:
    """lr = base_lr × warmup(step) × decay, where decay is cosine in the step or a plateau scale.

    `step()` is called once per optimizer step; `observe(val_ppl)` after each validation that
    should drive the plateau rule. The whole state is a handful of numbers in `state_dict()`.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
        self.optimizer = optimizer
        self.kind = cfg.schedule
        self.base_lr = cfg.lr
        self.warmup_steps = cfg.warmup_steps
        self.total_steps = max(total_steps, 1)
        self.min_lr_ratio = cfg.min_lr_ratio
        self.plateau_factor = cfg.plateau_factor
        self.steps_done = 0
        self.plateau_scale = 1.0
        self.best_ppl = math.inf
        self._apply()

    def factor(self) -> float:
        """The multiplier of `base_lr` for the next optimizer step."""
        s = self.steps_done
        warm = min(1.0, (s + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        if self.kind == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = min(max(s - self.warmup_steps, 0) / span, 1.0)
            cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
            return warm * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
        if self.kind == "plateau":
            return warm * self.plateau_scale
        return warm

    @property
    def lr(self) -> float:
        return self.base_lr * self.factor()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr

    def step(self) -> None:
        self.steps_done += 1
        self._apply()

    def observe(self, val_ppl: float) -> bool:
        """Record a validation perplexity; returns True when the plateau rule lowered the lr."""
        if self.kind != "plateau":
            return False
        if val_ppl < self.best_ppl:
            self.best_ppl = val_ppl
            return False
        self.plateau_scale *= self.plateau_factor
        self._apply()
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps_done": self.steps_done,
            "plateau_scale": self.plateau_scale,
            "best_ppl": self.best_ppl,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["steps_done"])
        self.plateau_scale = float(state["plateau_scale"])
        self.best_ppl = float(state["best_ppl"])
        self._apply()
