"""The contract every model keeps, so training, evaluation and serving never ask which one.

`training_loss(batch)` gives a `LossOutput`; `decode(images, ...)` gives one `Hypothesis`
per image. `forward` is `training_loss`, so wrappers that hook `forward`
(DistributedDataParallel, `torch.compile`) work on the loss directly.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from im2markup.model.config import ModelConfig


@dataclass
class LossOutput:
    """Mean loss per target token plus the counts a trainer aggregates over batches.

    `stats["nll"]` is the mean negative log-likelihood per target token without label
    smoothing or auxiliary terms, so that exp of it is the perplexity; `loss` is what is
    optimized (label smoothing, REINFORCE terms).
    """

    loss: Tensor
    n_tokens: int
    n_correct: int
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class Hypothesis:
    """One decoded formula.

    `token_ids` exclude `<bos>` and `<eos>`. `score` is the summed log-probability
    (`<eos>` included) divided by (length + 1) ** length_penalty; a hypothesis cut off at
    `max_len` has no `<eos>` and is divided by max_len ** length_penalty. `attention`
    (`T×H'×W'`) and `coarse_attention` (`T×Hc×Wc`) have one row per token when asked
    for; `n_fine_cells` counts the fine cells scored at each of those steps; `n_best`
    holds the beam's final hypotheses: the finished ones best first, then any cut off at
    `max_len` (empty for greedy decoding).
    """

    token_ids: list[int]
    score: float
    attention: Tensor | None = None
    coarse_attention: Tensor | None = None
    n_fine_cells: list[int] | None = None
    n_best: list[Hypothesis] = field(default_factory=list)


@dataclass(frozen=True)
class SearchBounds:
    """When a search may stop early: per-image score floors and a deadline (see `decode`)."""

    floor: Tensor | None = None
    deadline: float | None = None


class ImageToMarkupModel(nn.Module, abc.ABC):
    """Base class of the registered architectures (see `factory.MODELS`).

    Subclasses set `cfg` and `vocab_size` and implement `training_loss` and `search`.
    """

    cfg: ModelConfig
    vocab_size: int

    @abc.abstractmethod
    def training_loss(self, batch: dict[str, Tensor]) -> LossOutput:
        """Loss of a batch (`images`, `tgt`, `tgt_lengths`) in the module's current mode."""

    @torch.no_grad()
    def decode(
        self,
        images: Tensor,
        beam_size: int = 1,
        max_len: int | None = None,
        length_penalty: float = 0.0,
        keep_attention: bool = False,
        allowed_tokens: Tensor | None = None,
        *,
        floor: Tensor | None = None,
        deadline: float | None = None,
    ) -> list[Hypothesis]:
        """One hypothesis per image; call `eval()` first (batch norm and dropout follow the mode).

        `max_len` defaults to the configuration's. `allowed_tokens` (boolean, one entry per
        vocabulary id) restricts the output to the ids it marks True: the others get −∞ logits.
        Nothing is stored on the module, so one model may serve concurrent requests.

        `floor` (float64, one entry per image, no length penalty) lets a greedy search give
        up on an image once its summed log-probability falls below the floor: it can no
        longer beat a reading the caller already has, so it comes back cut short with score
        −∞ (other searches may read it to the end). Past `deadline` (`time.monotonic()`) the
        search raises `deadline.DeadlineExceeded`.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        if floor is not None and (length_penalty or tuple(floor.shape) != (len(images),)):
            raise ValueError("floor needs one entry per image and no length penalty")
        allowed = check_allowed(allowed_tokens, self.vocab_size, images.device)
        max_len = self.cfg.max_len if max_len is None else max_len
        bounds = SearchBounds(floor, deadline)
        return self.search(
            images, beam_size, max_len, length_penalty, keep_attention, allowed, bounds
        )

    @abc.abstractmethod
    def search(
        self,
        images: Tensor,
        beam_size: int,
        max_len: int,
        length_penalty: float,
        keep_attention: bool,
        allowed: Tensor | None,
        bounds: SearchBounds,
    ) -> list[Hypothesis]:
        """`decode` once its arguments are checked (`allowed` is on the images' device)."""

    def forward(self, batch: dict[str, Tensor]) -> LossOutput:
        return self.training_loss(batch)


def length_normalized(score: float, length: int, length_penalty: float) -> float:
    """Summed log-probability over `length` steps divided by length ** penalty."""
    return score / max(length, 1) ** length_penalty if length_penalty else score


def check_allowed(allowed: Tensor | None, vocab_size: int, device: torch.device) -> Tensor | None:
    """`allowed` on `device`, once checked to be a boolean mask over the vocabulary that allows
    at least one id (a mask of another vocabulary would silently allow the wrong tokens)."""
    if allowed is None:
        return None
    if allowed.dtype != torch.bool or tuple(allowed.shape) != (vocab_size,):
        raise ValueError(
            f"allowed_tokens must be a boolean mask of shape ({vocab_size},), "
            f"got {allowed.dtype} of shape {tuple(allowed.shape)}"
        )
    if not bool(allowed.any()):
        raise ValueError("allowed_tokens allows no token at all")
    return allowed.to(device)
