"""The contract every model keeps, so training, evaluation and serving never ask which one.

`training_loss(batch)` gives a `LossOutput`; `decode(images, ...)` gives one `Hypothesis`
per image. `forward` is `training_loss`, so wrappers that hook `forward`
(DistributedDataParallel, `torch.compile`) work on the loss directly.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from torch import Tensor, nn


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
    (`<eos>` included) divided by (length + 1) ** length_penalty. `attention`
    (`T×H'×W'`) and `coarse_attention` (`T×Hc×Wc`) have one row per token when asked
    for; `n_fine_cells` counts the fine cells scored at each of those steps; `n_best`
    holds the beam's final hypotheses, best first (empty for greedy decoding).
    """

    token_ids: list[int]
    score: float
    attention: Tensor | None = None
    coarse_attention: Tensor | None = None
    n_fine_cells: list[int] | None = None
    n_best: list[Hypothesis] = field(default_factory=list)


class ImageToMarkupModel(nn.Module, abc.ABC):
    """Base class of the registered architectures (see `factory.MODELS`)."""

    @abc.abstractmethod
    def training_loss(self, batch: dict[str, Tensor]) -> LossOutput:
        """Loss of a batch (`images`, `tgt`, `tgt_lengths`) in the module's current mode."""

    @abc.abstractmethod
    def decode(
        self,
        images: Tensor,
        beam_size: int = 1,
        max_len: int | None = None,
        length_penalty: float = 0.0,
        keep_attention: bool = False,
        allowed_tokens: Tensor | None = None,
    ) -> list[Hypothesis]:
        """One hypothesis per image; call `eval()` first (batch norm and dropout follow the mode).

        `allowed_tokens` (boolean, one entry per vocabulary id) restricts the output to the ids
        it marks True: the others get −∞ logits. Nothing is stored on the module, so one model
        may serve concurrent requests.
        """

    def forward(self, batch: dict[str, Tensor]) -> LossOutput:
        return self.training_loss(batch)


def length_normalized(score: float, length: int, length_penalty: float) -> float:
    """Summed log-probability over `length` steps divided by length ** penalty."""
    return score / max(length, 1) ** length_penalty if length_penalty else score
