"""How many attention cells a model scores per decoding step, measured on real images.

The point of coarse-to-fine attention is to score fewer fine cells per step; this
measures it by teacher-forcing the gold formulas (so every variant sees the same steps)
and averaging the per-step counts each attention reports over the real target tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from im2markup.data.vocab import PAD_ID
from im2markup.model.seq2seq import Seq2Seq


@dataclass
class AttentionCost:
    """Mean cells scored per decoding step, and the mean size of the fine grid."""

    fine_per_step: float
    coarse_per_step: float
    fine_grid_cells: float
    steps: int


@torch.no_grad()
def measure_attention_cost(model: Seq2Seq, batches: Iterable[dict[str, Tensor]]) -> AttentionCost:
    """Average cell counts over every real target step of `batches` (in eval mode)."""
    was_training = model.training
    model.eval()
    fine = coarse = grid = 0.0
    steps = 0
    for batch in batches:
        inputs, targets = batch["tgt"][:, :-1], batch["tgt"][:, 1:]
        memory = model.encode(batch["images"])
        _, records = model.decoder.teacher_force(inputs, memory)
        mask = targets != PAD_ID
        fine += float(records["n_fine"][mask].sum())
        coarse += float(records["n_coarse"][mask].sum())
        height, width = memory.fine_shape
        grid += height * width * int(mask.sum())
        steps += int(mask.sum())
    model.train(was_training)
    if steps == 0:
        raise ValueError("no target tokens to measure attention cost on")
    return AttentionCost(fine / steps, coarse / steps, grid / steps, steps)
