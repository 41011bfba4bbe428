"""Periodic validation: perplexity and token accuracy under teacher forcing, and greedy exact match.

Both run on fixed subsets of the validation split chosen once from the run's seed, so that
successive validations are comparable and cheap (greedy decoding of a few hundred images).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch

from im2markup.data.dataset import FormulaDataset, collate
from im2markup.data.images.buckets import bucket_for
from im2markup.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocab
from im2markup.metrics.text import corpus_bleu, token_match_rate


@dataclass(frozen=True)
class ValidationResult:
    """Validation figures; percentages are in [0, 100]. `loss` is the mean token NLL without
    label smoothing (`LossOutput.stats["nll"]`), `perplexity` its exp."""

    loss: float
    perplexity: float
    token_accuracy: float
    exact_match: float
    bleu: float
    loss_images: int
    match_images: int
    seconds: float
    examples: tuple[tuple[str, str], ...] = ()

    def better_than(self, other: ValidationResult | None) -> bool:
        """Higher exact match wins; on a tie, lower perplexity."""
        if other is None:
            return True
        return self._key() > other._key()

    def _key(self) -> tuple[float, float]:
        # NaN (nothing decoded, or no loss batches) ranks below every number.
        em = self.exact_match if math.isfinite(self.exact_match) else -math.inf
        ppl = self.perplexity if math.isfinite(self.perplexity) else math.inf
        return em, -ppl


def fixed_subset(
    dataset: FormulaDataset, count: int, batch_size: int, seed: int
) -> list[list[int]]:
    """`count` samples drawn once from `seed`, grouped into same-bucket batches."""
    n = len(dataset)
    if count <= 0 or n == 0:
        return []
    chosen = np.sort(np.random.default_rng(seed).choice(n, size=min(count, n), replace=False))
    groups: dict[tuple[int, int], list[int]] = {}
    for i in chosen.tolist():
        bucket = bucket_for(int(dataset.heights[i]), int(dataset.widths[i]), dataset.buckets)
        groups.setdefault(bucket, []).append(i)
    return [
        members[start : start + batch_size]
        for _, members in sorted(groups.items())
        for start in range(0, len(members), batch_size)
    ]


def _batches(
    dataset: FormulaDataset, index_batches: list[list[int]], device: torch.device
) -> Iterator[dict[str, torch.Tensor]]:
    for indices in index_batches:
        batch = collate([dataset[i] for i in indices])
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def strip_ids(ids: list[int] | torch.Tensor) -> list[int]:
    """Token ids without `<bos>`/`<pad>`, cut at the first `<eos>`."""
    out = []
    for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
        if i == EOS_ID:
            break
        if i not in (BOS_ID, PAD_ID):
            out.append(int(i))
    return out


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    dataset: FormulaDataset,
    loss_batches: list[list[int]],
    match_batches: list[list[int]],
    vocab: Vocab,
    device: torch.device,
    autocast: Callable[[], AbstractContextManager],
    max_len: int | None,
    n_examples: int = 3,
) -> ValidationResult:
    """Teacher-forced loss over `loss_batches` and greedy decoding of `match_batches`.

    `autocast` makes the mixed-precision context the training steps use.
    The model is put in eval mode and restored to its previous mode afterwards.
    """
    start = time.monotonic()
    was_training = model.training
    model.eval()
    try:
        nll = tokens = correct = loss_images = 0.0
        for batch in _batches(dataset, loss_batches, device):
            with autocast():
                out = model.training_loss(batch)
            n = float(out.n_tokens)
            nll += out.stats["nll"] * n
            tokens += n
            correct += float(out.n_correct)
            loss_images += len(batch["ids"])
        predictions: list[list[str]] = []
        golds: list[list[str]] = []
        for batch in _batches(dataset, match_batches, device):
            with autocast():
                hyps = model.decode(batch["images"], beam_size=1, max_len=max_len)
            for hyp, gold in zip(hyps, batch["tgt"], strict=True):
                predictions.append(vocab.decode(strip_ids(list(hyp.token_ids))))
                golds.append(vocab.decode(strip_ids(gold)))
    finally:
        model.train(was_training)
    loss = nll / tokens if tokens else math.nan
    return ValidationResult(
        loss=loss,
        perplexity=math.exp(min(loss, 50.0)) if tokens else math.nan,
        token_accuracy=100.0 * correct / tokens if tokens else math.nan,
        exact_match=token_match_rate(predictions, golds) if golds else math.nan,
        bleu=corpus_bleu(predictions, golds) if golds else math.nan,
        loss_images=int(loss_images),
        match_images=len(golds),
        seconds=time.monotonic() - start,
        examples=tuple(
            (" ".join(g), " ".join(p))
            for g, p in zip(golds[:n_examples], predictions[:n_examples], strict=True)
        ),
    )
