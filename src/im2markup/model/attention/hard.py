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
from im2markup.model.attention.coarse import CoarseToFineAttention


@register_attention("hard")
class HardAttention(CoarseToFineAttention):
    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        scores = self.coarse_scores(query, memory).float()
        log_coarse = torch.log_softmax(scores, dim=-1)
        coarse = log_coarse.exp()
        choice = torch.multinomial(coarse, 1) if sample else coarse.argmax(-1, keepdim=True)
        context, blocks, mask = self.attend_blocks(query, memory, choice)
        entropy = -(coarse * log_coarse.masked_fill(coarse == 0, 0.0)).sum(-1)
        log_prob = log_coarse.gather(-1, choice).squeeze(-1)
        n_fine = mask.flatten(1).sum(1)
        extras = {"log_prob": log_prob, "entropy": entropy}
        return self.output(context, blocks, coarse, n_fine, memory, extras)
