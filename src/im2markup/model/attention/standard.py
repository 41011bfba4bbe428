"""Standard attention: a softmax over every cell of the fine grid (the paper's IM2TEX)."""

from __future__ import annotations

import torch
from torch import Tensor

from im2markup.model.attention.base import (
    AdditiveScorer,
    Attention,
    AttentionMemory,
    AttentionOutput,
    count_cells,
    masked_fill_min,
    register_attention,
)


@register_attention("standard")
class StandardAttention(Attention):
    def __init__(self, query_dim: int, value_dim: int, attn_dim: int, coarse_factor: int = 4):
        super().__init__(query_dim, value_dim, attn_dim, coarse_factor)
        self.scorer = AdditiveScorer(query_dim, value_dim, attn_dim)

    def prepare(
        self, fine: Tensor, coarse: Tensor | None = None, fine_mask: Tensor | None = None
    ) -> AttentionMemory:
        batch, height, width, dim = fine.shape
        values = fine.reshape(batch, height * width, dim)
        return AttentionMemory(
            fine_shape=(height, width),
            fine_values=values,
            fine_keys=self.scorer.keys(values),
            fine_mask=None if fine_mask is None else fine_mask.reshape(batch, height * width),
        )

    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        values, keys, mask = memory.fine_values, memory.fine_keys, memory.fine_mask
        scores = masked_fill_min(self.scorer(query, keys), mask)
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights.unsqueeze(1).to(values.dtype), values).squeeze(1)
        batch, n_cells = weights.shape
        return AttentionOutput(
            context=context,
            weights=weights.view(batch, *memory.fine_shape),
            coarse_weights=None,
            n_fine=count_cells(mask, batch, n_cells, weights.device),
            n_coarse=torch.zeros(batch, dtype=torch.long, device=weights.device),
        )
