"""Hard coarse attention: one coarse cell per step, fine attention inside it only.

Training samples the cell from the coarse softmax and learns the choice with REINFORCE
(the policy-gradient term lives in the model's training loss; this module reports the
chosen cell's log-probability and the coarse entropy in `extras`). Decoding takes the
arg-max cell, so each step scores the coarse cells plus at most f² fine cells.
"""

from __future__ import annotations

import torch
from torch import Tensor

from im2markup.model.attention.base import AttentionMemory, AttentionOutput, register_attention
from im2markup.model.attention.coarse import CoarseToFineAttention, gather_blocks


@register_attention("hard")
class HardAttention(CoarseToFineAttention):
    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        scores = self.coarse_scores(query, memory).float()
        log_coarse = torch.log_softmax(scores, dim=-1)
        coarse = log_coarse.exp()
        choice = torch.multinomial(coarse, 1) if sample else coarse.argmax(-1, keepdim=True)
        mask = gather_blocks(memory.fine_mask, choice)
        keys = gather_blocks(memory.fine_keys, choice)
        values = gather_blocks(memory.fine_values, choice)
        fine = self.fine_given_coarse(query, keys, mask)
        context = torch.einsum("bkf,bkfd->bd", fine.to(values.dtype), values)
        blocks = torch.zeros_like(memory.fine_mask, dtype=fine.dtype)
        blocks = blocks.scatter(1, choice.unsqueeze(-1).expand_as(fine), fine)
        entropy = -(coarse * log_coarse.masked_fill(coarse == 0, 0.0)).sum(-1)
        return AttentionOutput(
            context=context,
            weights=self.to_grid(blocks, memory),
            coarse_weights=self.coarse_grid(coarse, memory),
            n_fine=mask.flatten(1).sum(1),
            n_coarse=memory.coarse_mask.sum(1),
            extras={"log_prob": log_coarse.gather(-1, choice).squeeze(-1), "entropy": entropy},
        )
