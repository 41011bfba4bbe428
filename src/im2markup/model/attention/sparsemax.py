"""Sparsemax coarse attention: fine cells are scored only inside coarse cells it keeps.

Sparsemax (Martins & Astudillo, 2016) is the Euclidean projection onto the simplex: like
softmax it sums to one, unlike softmax it gives exact zeros, so the coarse cells it drops
need no fine attention at all. That is what makes the variant cheaper per step.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

from im2markup.model.attention.base import AttentionMemory, AttentionOutput, register_attention
from im2markup.model.attention.coarse import CoarseToFineAttention, gather_blocks


class _Sparsemax(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, scores: Tensor) -> Tensor:
        z = scores - scores.amax(dim=-1, keepdim=True)
        ordered, _ = torch.sort(z, dim=-1, descending=True)
        cumulative = ordered.cumsum(dim=-1) - 1
        rank = torch.arange(1, z.size(-1) + 1, device=z.device, dtype=z.dtype)
        # The support is the prefix of sorted scores with 1 + k·z_k > Σ_{j≤k} z_j.
        support_size = (ordered * rank > cumulative).sum(dim=-1, keepdim=True)
        tau = cumulative.gather(-1, support_size - 1) / support_size.to(z.dtype)
        probs = (z - tau).clamp(min=0)
        ctx.save_for_backward(probs)
        return probs

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> Tensor:
        (probs,) = ctx.saved_tensors
        support = (probs > 0).to(grad.dtype)
        mean = (grad * support).sum(dim=-1, keepdim=True) / support.sum(dim=-1, keepdim=True)
        return support * (grad - mean)


def sparsemax(scores: Tensor) -> Tensor:
    """Sparsemax over the last dimension (computed in float32 or float64)."""
    dtype = scores.dtype if scores.dtype == torch.float64 else torch.float32
    return _Sparsemax.apply(scores.to(dtype)).to(scores.dtype)


@register_attention("sparsemax")
class SparsemaxAttention(CoarseToFineAttention):
    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        coarse = sparsemax(self.coarse_scores(query, memory))
        kept = int((coarse > 0).sum(-1).max())
        # The `kept` largest coarse weights cover every row's support; rows with a smaller
        # support get zero-weight extras, whose fine cells are neither used nor counted.
        top_weights, top_index = coarse.topk(kept, dim=-1)
        selected = top_weights > 0
        mask = gather_blocks(memory.fine_mask, top_index) & selected.unsqueeze(-1)
        keys = gather_blocks(memory.fine_keys, top_index)
        values = gather_blocks(memory.fine_values, top_index)
        joint = top_weights.unsqueeze(-1) * self.fine_given_coarse(query, keys, mask)
        context = torch.einsum("bkf,bkfd->bd", joint.to(values.dtype), values)
        blocks = torch.zeros_like(memory.fine_mask, dtype=joint.dtype)
        blocks = blocks.scatter(1, top_index.unsqueeze(-1).expand_as(joint), joint)
        return AttentionOutput(
            context=context,
            weights=self.to_grid(blocks, memory),
            coarse_weights=self.coarse_grid(coarse, memory),
            n_fine=mask.flatten(1).sum(1),
            n_coarse=memory.coarse_mask.sum(1),
        )
