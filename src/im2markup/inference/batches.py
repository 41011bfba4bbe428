"""Batched decoding with timing: one batch tensor, or many padded images batched by size.

Every caller searches through here, under `torch.inference_mode()` and with the same
arguments for the same settings, and charges each image its share of its batch's time.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from im2markup.model.base import Hypothesis, ImageToMarkupModel


@dataclass(frozen=True)
class Search:
    """How to decode: beam width (1 = greedy), longest output (`None`: the model's), whether
    hypotheses keep their attention maps, an optional mask of the tokens the decoder may
    write, and a `time.monotonic()` deadline past which decoding stops with
    `model.deadline.DeadlineExceeded` (`model.base.ImageToMarkupModel.decode`)."""

    beam_size: int
    max_len: int | None = None
    keep_attention: bool = False
    allowed_tokens: torch.Tensor | None = None
    deadline: float | None = None


def decode_batch(
    model: ImageToMarkupModel,
    images: torch.Tensor,
    device: torch.device,
    search: Search,
    floor: torch.Tensor | None = None,
) -> tuple[list[Hypothesis], float]:
    """One hypothesis per image of a `B×1×H×W` `uint8` batch, and the seconds it took; a
    greedy search may give up on an image once it scores below its `floor` (score −∞)."""
    start = time.perf_counter()
    with torch.inference_mode():
        hypotheses = model.decode(
            images.to(device),
            beam_size=search.beam_size,
            max_len=search.max_len,
            keep_attention=search.keep_attention,
            allowed_tokens=search.allowed_tokens,
            floor=floor,
            deadline=search.deadline,
        )
    return hypotheses, time.perf_counter() - start


def decode_images(
    model: ImageToMarkupModel,
    images: Sequence[np.ndarray],
    device: torch.device,
    search: Search,
    batch_size: int,
    apart: Sequence[Hashable] | None = None,
    floors: Sequence[float] | None = None,
) -> list[tuple[Hypothesis, float]]:
    """(hypothesis, seconds) per padded `H×W` image, in order.

    Images of one size are decoded together, at most `batch_size` at a time, sizes in the order
    they first appear; images whose `apart` labels differ never share a batch (an int8 model's
    reading of an image would depend on its neighbours). Each image's seconds are its share of
    its batch's. With `floors`, a greedy search gives up on an image whose reading falls below
    its floor (`model.base.ImageToMarkupModel.decode`).
    """
    groups: dict[tuple[Hashable, ...], list[int]] = {}
    for i, pixels in enumerate(images):
        label = apart[i] if apart is not None else None
        groups.setdefault((*pixels.shape, label), []).append(i)
    decoded: dict[int, tuple[Hypothesis, float]] = {}
    for members in groups.values():
        for at in range(0, len(members), batch_size):
            part = members[at : at + batch_size]
            batch = torch.from_numpy(np.stack([images[i] for i in part])[:, None])
            floor = None
            if floors is not None:
                floor = torch.tensor([floors[i] for i in part], dtype=torch.float64)
            hypotheses, seconds = decode_batch(model, batch, device, search, floor)
            for i, hyp in zip(part, hypotheses, strict=True):
                decoded[i] = (hyp, seconds / len(part))
    return [decoded[i] for i in range(len(images))]
