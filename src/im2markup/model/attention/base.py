"""What every attention variant shares: its memory, its output, the scorer and the registry.

An attention is built once, `prepare`s the encoder grids of a batch into an
`AttentionMemory` (projections included, so they are computed once per image and not once
per decoding step), and is then called once per step with the decoder's hidden state.
Coarse-to-fine variants keep the fine grid in *block layout*: `B×Nc×f²×…`, one row of f×f
fine cells per coarse cell, so that selecting coarse cells is a single gather.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class AttentionMemory:
    """Per-image tensors an attention reads at every step (all batch-first).

    `fine_*` are `B×N×…` (N = H'·W', row-major) for flat variants and `B×Nc×f²×…` for
    block variants; masks are True on real cells and None when every cell is real.
    """

    fine_shape: tuple[int, int]
    fine_values: Tensor | None = None
    fine_keys: Tensor | None = None
    fine_mask: Tensor | None = None
    coarse_shape: tuple[int, int] | None = None
    coarse_values: Tensor | None = None
    coarse_keys: Tensor | None = None
    coarse_mask: Tensor | None = None

    def _tensors(self) -> dict[str, Tensor]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if isinstance(value, Tensor)}

    @property
    def batch_size(self) -> int:
        return next(iter(self._tensors().values())).size(0)

    @property
    def device(self) -> torch.device:
        return next(iter(self._tensors().values())).device

    def select(self, index: Tensor) -> AttentionMemory:
        """The memory of batch rows `index` (repeats allowed, e.g. to expand for a beam)."""
        changes = {name: value.index_select(0, index) for name, value in self._tensors().items()}
        return dataclasses.replace(self, **changes)


@dataclass
class AttentionOutput:
    """One step of attention.

    `weights` is always the fine distribution `B×H'×W'` (summing to one) so every variant
    can be visualised the same way; `n_fine`/`n_coarse` (`B`, long) count the cells this
    step actually scored; `extras` holds variant-specific tensors (hard attention's
    `log_prob` and `entropy` of the chosen coarse cell).
    """

    context: Tensor
    weights: Tensor
    coarse_weights: Tensor | None
    n_fine: Tensor
    n_coarse: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class AdditiveScorer(nn.Module):
    """score(h, V) = βᵀ tanh(W₁h + W₂V), with the W₂V part computed once by `keys`.

    It is evaluated as 2βᵀσ(2z) − Σβ, the same value, because on CPU a sigmoid is several
    times faster than a tanh and this is the innermost loop of decoding (B × cells × dim per
    step). `keys` therefore returns 2·W₂V.
    """

    def __init__(self, query_dim: int, value_dim: int, attn_dim: int):
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)
        self.key_proj = nn.Linear(value_dim, attn_dim)
        self.beta = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, values: Tensor) -> Tensor:
        return 2 * self.key_proj(values)

    def forward(self, query: Tensor, keys: Tensor) -> Tensor:
        """`query` B×Q, `keys` B×…×A (from `keys`) → scores B×…"""
        q = 2 * self.query_proj(query)
        q = q.view(q.size(0), *([1] * (keys.dim() - 2)), q.size(-1))
        gates = torch.sigmoid_(keys + q)
        return 2 * self.beta(gates).squeeze(-1) - self.beta.weight.sum()


def masked_fill_min(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Scores with masked cells at the dtype's minimum (softmax gives them zero, never NaN)."""
    if mask is None:
        return scores
    return scores.masked_fill(~mask, torch.finfo(scores.dtype).min)


def count_cells(mask: Tensor | None, batch: int, n_cells: int, device: torch.device) -> Tensor:
    """Real cells per row of a `B×…` mask (all `n_cells` when there is no mask)."""
    if mask is None:
        return torch.full((batch,), n_cells, dtype=torch.long, device=device)
    return mask.flatten(1).sum(1)


def to_blocks(grid: Tensor, factor: int) -> Tensor:
    """`B×Hp×Wp×…` → `B×Nc×f²×…` (Hp, Wp multiples of f)."""
    b, hp, wp = grid.shape[:3]
    rest = grid.shape[3:]
    f = factor
    x = grid.reshape(b, hp // f, f, wp // f, f, *rest)
    x = x.transpose(2, 3)
    return x.reshape(b, (hp // f) * (wp // f), f * f, *rest)


def blocks_to_grid(
    blocks: Tensor, coarse_shape: tuple[int, int], fine_shape: tuple[int, int], factor: int
) -> Tensor:
    """`B×Nc×f²` block weights → `B×H'×W'` fine grid (padding cells cropped)."""
    hc, wc = coarse_shape
    f = factor
    x = blocks.reshape(blocks.size(0), hc, wc, f, f).transpose(2, 3)
    x = x.reshape(blocks.size(0), hc * f, wc * f)
    return x[:, : fine_shape[0], : fine_shape[1]]


class Attention(nn.Module, abc.ABC):
    """Base of the variants: `prepare` once per batch, then `forward` once per step."""

    uses_fine: bool = True
    uses_coarse: bool = False

    def __init__(self, query_dim: int, value_dim: int, attn_dim: int, coarse_factor: int = 4):
        super().__init__()
        self.query_dim = query_dim
        self.value_dim = value_dim
        self.attn_dim = attn_dim
        self.factor = coarse_factor

    @abc.abstractmethod
    def prepare(
        self, fine: Tensor, coarse: Tensor | None = None, fine_mask: Tensor | None = None
    ) -> AttentionMemory:
        """Encoder grids (`B×H'×W'×D`, coarse `B×Hc×Wc×D`) → the memory used at every step.

        `fine` is only read for its shape by variants that do not attend to fine cells.
        `fine_mask` (`B×H'×W'`, True on real cells) is optional: batches share a bucket.
        """

    @abc.abstractmethod
    def forward(
        self, query: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> AttentionOutput:
        """`query` (`B×Q`, the decoder state) → context `B×D` and weights.

        `sample` only matters for hard attention: sample a coarse cell instead of arg-max.
        """


ATTENTION: dict[str, type[Attention]] = {}


def register_attention(name: str) -> Callable[[type[Attention]], type[Attention]]:
    """Class decorator adding a variant under `name`; duplicates and non-variants raise."""

    def add(cls: type[Attention]) -> type[Attention]:
        if name in ATTENTION:
            raise ValueError(f"attention {name!r} is already registered")
        if not (isinstance(cls, type) and issubclass(cls, Attention)):
            raise TypeError(f"attention {name!r} must subclass Attention, got {cls!r}")
        ATTENTION[name] = cls
        return cls

    return add


def build_attention(name: str, **kwargs: int) -> Attention:
    """The registered attention called `name` (`ModelConfig.attention`), built with `kwargs`."""
    if name not in ATTENTION:
        raise ValueError(f"unknown attention {name!r}; valid: {sorted(ATTENTION)}")
    return ATTENTION[name](**kwargs)
