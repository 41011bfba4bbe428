"""Shared parts of the coarse-to-fine variants: block layout, coarse scores, fine softmax.

The fine grid (H'×W') is padded to a multiple of the coarse factor f, cut into f×f blocks
(one per coarse cell) and stored as `B×Nc×f²×…`; padding cells are masked out. Each variant
then decides which blocks get a fine softmax and how the coarse distribution weighs them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from im2markup.model.attention.base import (
    AdditiveScorer,
    Attention,
    AttentionMemory,
    AttentionOutput,
    blocks_to_grid,
    masked_fill_min,
    to_blocks,
)
from im2markup.model.encoder import grid_mask


class CoarseToFineAttention(Attention):
    """Prepares both grids; subclasses implement `forward`."""

    uses_coarse = True

    def __init__(self, query_dim: int, value_dim: int, attn_dim: int, coarse_factor: int = 4):
        super().__init__(query_dim, value_dim, attn_dim, coarse_factor)
        self.coarse_scorer = AdditiveScorer(query_dim, value_dim, attn_dim)
        if self.uses_fine:
            self.fine_scorer = AdditiveScorer(query_dim, value_dim, attn_dim)

    def prepare(
        self, fine: Tensor, coarse: Tensor | None = None, fine_mask: Tensor | None = None
    ) -> AttentionMemory:
        if coarse is None:
            raise ValueError(f"{type(self).__name__} needs the coarse grid")
        batch, height, width = fine.shape[:3]
        f = self.factor
        hc, wc = coarse.shape[1:3]
        if (hc, wc) != (-(-height // f), -(-width // f)):
            raise ValueError(f"coarse grid {hc}×{wc} does not cover fine grid {height}×{width}")
        mask = grid_mask(batch, height, width, f, fine.device)
        if fine_mask is not None:
            mask[:, :height, :width] &= fine_mask
        mask_blocks = to_blocks(mask, f)
        coarse_values = coarse.reshape(batch, hc * wc, coarse.size(-1))
        fine_values = fine_keys = None
        if self.uses_fine:
            padded = F.pad(fine, (0, 0, 0, mask.size(2) - width, 0, mask.size(1) - height))
            fine_values = to_blocks(padded, f)
            fine_keys = self.fine_scorer.keys(fine_values)
        return AttentionMemory(
            fine_shape=(height, width),
            fine_values=fine_values,
            fine_keys=fine_keys,
            fine_mask=mask_blocks,
            coarse_shape=(hc, wc),
            coarse_values=coarse_values,
            coarse_keys=self.coarse_scorer.keys(coarse_values),
            coarse_mask=mask_blocks.any(-1),
        )

    def coarse_scores(self, query: Tensor, memory: AttentionMemory) -> Tensor:
        """`B×Nc` scores, masked coarse cells at the dtype's minimum."""
        return masked_fill_min(self.coarse_scorer(query, memory.coarse_keys), memory.coarse_mask)

    def fine_given_coarse(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """p(fine | coarse) inside each given block: keys `B×K×f²×A` → `B×K×f²`."""
        scores = masked_fill_min(self.fine_scorer(query, keys), mask)
        return torch.softmax(scores, dim=-1) * mask

    def attend_blocks(
        self, query: Tensor, memory: AttentionMemory, index: Tensor, weights: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Fine attention inside the blocks of the coarse cells `index` (`B×K`) only.

        With `weights` (`B×K`), each block's fine distribution is scaled by its coarse weight
        and blocks of weight 0 are not scored. Returns the context, the weights of all blocks
        (`B×Nc×f²`, zero outside the chosen ones) and the mask of the fine cells scored.
        """
        mask = gather_blocks(memory.fine_mask, index)
        if weights is not None:
            mask = mask & (weights > 0).unsqueeze(-1)
        keys = gather_blocks(memory.fine_keys, index)
        values = gather_blocks(memory.fine_values, index)
        joint = self.fine_given_coarse(query, keys, mask)
        if weights is not None:
            joint = weights.unsqueeze(-1) * joint
        context = torch.einsum("bkf,bkfd->bd", joint.to(values.dtype), values)
        blocks = torch.zeros_like(memory.fine_mask, dtype=joint.dtype)
        blocks = blocks.scatter(1, index.unsqueeze(-1).expand_as(joint), joint)
        return context, blocks, mask

    def output(
        self,
        context: Tensor,
        blocks: Tensor,
        coarse: Tensor,
        n_fine: Tensor,
        memory: AttentionMemory,
        extras: dict[str, Tensor] | None = None,
    ) -> AttentionOutput:
        """The step's output from fine weights in block layout and the coarse distribution."""
        return AttentionOutput(
            context=context,
            weights=blocks_to_grid(blocks, memory.coarse_shape, memory.fine_shape, self.factor),
            coarse_weights=coarse.view(coarse.size(0), *memory.coarse_shape),
            n_fine=n_fine,
            n_coarse=memory.coarse_mask.sum(1),
            extras=extras or {},
        )


def gather_blocks(blocks: Tensor, index: Tensor) -> Tensor:
    """Blocks `B×Nc×f²×…` at coarse indices `B×K` → `B×K×f²×…`."""
    shape = (*index.shape, *blocks.shape[2:])
    expanded = index.view(*index.shape, *([1] * (blocks.dim() - 2))).expand(shape)
    return blocks.gather(1, expanded)
