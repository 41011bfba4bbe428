"""Decoding CTC outputs: greedy collapse and prefix beam search."""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from torch import Tensor

from im2markup.model.base import Hypothesis, length_normalized


def greedy_collapse(paths: Tensor, blank: int) -> Tensor:
    """Best paths `B×T` → label sequences packed to the left, padded with `blank`.

    A frame is kept when it is not blank and differs from the frame before it.
    """
    previous = torch.cat([paths.new_full((paths.size(0), 1), blank), paths[:, :-1]], dim=1)
    keep = (paths != blank) & (paths != previous)
    position = keep.long().cumsum(dim=1) - 1
    out = torch.full_like(paths, blank)
    rows = torch.arange(paths.size(0), device=paths.device).unsqueeze(1).expand_as(paths)
    out[rows[keep], position[keep]] = paths[keep]
    return out


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = max(a, b), min(a, b)
    return high + math.log1p(math.exp(low - high))


def prefix_beam_search(
    log_probs: Tensor,
    beam_size: int,
    blank: int,
    max_len: int,
    length_penalty: float = 0.0,
) -> Hypothesis:
    """Prefix beam search over one image's frames `T×V` (log-probabilities).

    Each prefix keeps the probability of ending in a blank and in a label, so paths that
    collapse to the same labels are summed rather than competing. Only the `beam_size`
    most likely labels of each frame are expanded.
    """
    n_candidates = min(beam_size, log_probs.size(1))
    top_values, top_labels = log_probs.topk(n_candidates, dim=-1)
    frames = log_probs.tolist()
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for t, frame in enumerate(frames):
        labels = zip(top_values[t].tolist(), top_labels[t].tolist(), strict=True)
        labels = [(v, label) for v, label in labels if label != blank and v != -math.inf]
        grown: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (ends_blank, ends_label) in beams.items():
            total = _logsumexp(ends_blank, ends_label)
            entry = grown[prefix]
            entry[0] = _logsumexp(entry[0], total + frame[blank])
            last = prefix[-1] if prefix else None
            if last is not None:
                # Repeating the last label without a blank between stays on the prefix.
                entry[1] = _logsumexp(entry[1], ends_label + frame[last])
            if len(prefix) >= max_len:
                continue
            for value, label in labels:
                extended = grown[(*prefix, label)]
                source = ends_blank if label == last else total
                extended[1] = _logsumexp(extended[1], source + value)
        ranked = sorted(grown.items(), key=lambda item: _logsumexp(*item[1]), reverse=True)
        beams = {prefix: (b, nb) for prefix, (b, nb) in ranked[:beam_size]}
    hypotheses = [
        Hypothesis(
            token_ids=list(prefix),
            score=length_normalized(_logsumexp(b, nb), len(prefix) + 1, length_penalty),
        )
        for prefix, (b, nb) in beams.items()
    ]
    hypotheses.sort(key=lambda h: h.score, reverse=True)
    return Hypothesis(hypotheses[0].token_ids, hypotheses[0].score, n_best=hypotheses)
