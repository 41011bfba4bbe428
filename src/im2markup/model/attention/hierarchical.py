"""Hierarchical attention: p(fine) = Σ_coarse p(coarse) · p(fine | coarse), both softmax.

It learns the same two-level structure as the sparse variants but still scores every fine
cell, so it costs more than standard attention; the paper uses it to initialise them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from im2markup.model.attention.base import AttentionMemory, AttentionOutput, register_attention
from im2markup.model.attention.coarse import CoarseToFineAttention


@register_attention("hierarchical")
class HierarchicalAttention(CoarseToFineAttention):
    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        coarse = torch.softmax(self.coarse_scores(query, memory), dim=-1)
        fine = self.fine_given_coarse(query, memory.fine_keys, memory.fine_mask)
        joint = coarse.unsqueeze(-1) * fine
        values = memory.fine_values
        context = torch.einsum("bnk,bnkd->bd", joint.to(values.dtype), values)
        return self.output(context, joint, coarse, memory.fine_mask.flatten(1).sum(1), memory)
