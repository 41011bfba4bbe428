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
from im2markup.model.attention.coarse import CoarseToFineAttention


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
        context, blocks, mask = self.attend_blocks(query, memory, top_index, top_weights)
        return self.output(context, blocks, coarse, mask.flatten(1).sum(1), memory)
