"""Size buckets: the padded sizes images are batched at, and fitting an image into one.

Torch-free, so that reading a user's image never imports the training data pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from im2markup.data.images.preprocess import PAPER_BUCKETS

Bucket = tuple[int, int]
"""(width, height) of a padded image; the default buckets are the paper's (`preprocess`)."""

_OVERSIZE_STEP: Bucket = (64, 32)


def bucket_for(height: int, width: int, buckets: Sequence[Bucket] = PAPER_BUCKETS) -> Bucket:
    """The first bucket an image fits; larger images get their size rounded up (64 × 32 steps)."""
    for bucket in buckets:
        if width <= bucket[0] and height <= bucket[1]:
            return bucket
    step_w, step_h = _OVERSIZE_STEP
    return (math.ceil(width / step_w) * step_w, math.ceil(height / step_h) * step_h)


def bucket_groups(
    heights: np.ndarray, widths: np.ndarray, buckets: Sequence[Bucket] = PAPER_BUCKETS
) -> dict[Bucket, np.ndarray]:
    """Sample indices per bucket (as `bucket_for` assigns them), computed for all at once."""
    chosen = np.full(len(heights), -1, dtype=np.int64)
    for k, (width, height) in enumerate(buckets):
        chosen[(chosen < 0) & (widths <= width) & (heights <= height)] = k
    groups = {buckets[k]: np.flatnonzero(chosen == k) for k in np.unique(chosen[chosen >= 0])}
    rest = np.flatnonzero(chosen < 0)
    step_w, step_h = _OVERSIZE_STEP
    round_w = -(-np.asarray(widths)[rest] // step_w) * step_w
    round_h = -(-np.asarray(heights)[rest] // step_h) * step_h
    for width, height in sorted(set(zip(round_w.tolist(), round_h.tolist(), strict=True))):
        groups[(width, height)] = rest[(round_w == width) & (round_h == height)]
    return groups


def fit_into(image: np.ndarray, bucket: Bucket) -> np.ndarray:
    """Shrink an image that exceeds its bucket (keeping its aspect ratio); others pass unchanged."""
    height, width = image.shape
    if width <= bucket[0] and height <= bucket[1]:
        return image
    ratio = min(bucket[0] / width, bucket[1] / height)
    size = (max(1, int(width * ratio)), max(1, int(height * ratio)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
