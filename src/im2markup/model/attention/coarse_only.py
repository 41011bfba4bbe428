"""Coarse-only attention: standard attention over the coarse grid alone.

The paper's control (44.40% exact match): it shows that the coarse cells are too large to
read symbols from, which is why the sparse variants go back to fine cells. For
visualisation each coarse weight is spread evenly over the fine cells it covers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from im2markup.model.attention.base import AttentionMemory, AttentionOutput, register_attention
from im2markup.model.attention.coarse import CoarseToFineAttention


@register_attention("coarse_only")
class CoarseOnlyAttention(CoarseToFineAttention):
    uses_fine = False

    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        coarse = torch.softmax(self.coarse_scores(query, memory), dim=-1)
        values = memory.coarse_values
        context = torch.bmm(coarse.unsqueeze(1).to(values.dtype), values).squeeze(1)
        mask = memory.fine_mask.to(coarse.dtype)
        spread = coarse.unsqueeze(-1) * mask / mask.sum(-1, keepdim=True).clamp(min=1)
        n_fine = torch.zeros(coarse.size(0), dtype=torch.long, device=coarse.device)
        return self.output(context, spread, coarse, n_fine, memory)
