"""The paper's image preprocessing: crop to the ink, pad, downsample ×2, pad into a size bucket.

The authors cropped, padded by 8 px, padded into a bucket (ink in the top-left corner) and only
then downsampled. Here the bucket comes last so that a rendered formula can be stored once and
bucketed later; `downsample` adds a white margin before resizing and removes it after, so the
result is pixel-identical to the authors' order of steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

Size = tuple[int, int]

PAD = 8
FACTOR = 2
# (width, height) after downsampling, as in the paper, smallest first.
PAPER_BUCKETS: tuple[Size, ...] = (
    (128, 32), (128, 64), (160, 32), (160, 64), (192, 32), (192, 64), (224, 32), (224, 64),
    (256, 32), (256, 64), (320, 32), (320, 64), (384, 32), (384, 64), (384, 96), (480, 32),
    (480, 64), (480, 128), (480, 160),
)  # fmt: skip
# The authors' code's default buckets (halved), in its order; the shared images use these.
CODE_BUCKETS: tuple[Size, ...] = (
    (120, 50), (160, 40), (200, 40), (200, 50), (240, 40), (240, 50), (280, 40), (280, 50),
    (320, 40), (320, 50), (360, 40), (360, 50), (360, 60), (360, 100), (400, 50), (400, 160),
    (500, 100), (500, 200), (600, 100), (800, 100), (800, 800),
)  # fmt: skip
BUCKETS: dict[str, tuple[Size, ...]] = {"paper": PAPER_BUCKETS, "code": CODE_BUCKETS}

# Lanczos (a = 3) reads 3 output pixels = 3·factor input pixels on each side.
_LANCZOS_REACH = 3


def ink_bbox(image: Image.Image | np.ndarray, white: int = 255) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the pixels darker than `white`, or None for a blank image.

    The default counts every pixel that is not pure white, as the authors' crop did. Takes a
    grayscale image or a 2-D `uint8` array.
    """
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode == "L" else image.convert("L"))
    rows = np.flatnonzero(image.min(axis=1) < white)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(image[rows[0] : rows[-1] + 1].min(axis=0) < white)
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def crop_to_ink(image: Image.Image, white: int = 255) -> Image.Image:
    """The smallest rectangle holding all ink; a blank image raises `ValueError`."""
    box = ink_bbox(image, white)
    if box is None:
        raise ValueError("image has no ink")
    return image.convert("L").crop(box)


def pad(image: Image.Image, pixels: int = PAD, fill: int = 255) -> Image.Image:
    """`pixels` of `fill` added on every side."""
    out = Image.new("L", (image.width + 2 * pixels, image.height + 2 * pixels), fill)
    out.paste(image.convert("L"), (pixels, pixels))
    return out


def downsample(image: Image.Image, factor: int = FACTOR) -> Image.Image:
    """Shrink by `factor` with Lanczos; odd sizes are first padded white to a multiple of it.

    The white margin added on the right and bottom (and cut off again) makes the pixels near
    those edges come out as if the image continued in white, as it did inside the authors'
    buckets; Pillow would otherwise renormalize the filter at the edge.
    """
    out_w, out_h = -(-image.width // factor), -(-image.height // factor)
    margin = _LANCZOS_REACH
    canvas = Image.new("L", ((out_w + margin) * factor, (out_h + margin) * factor), 255)
    canvas.paste(image.convert("L"), (0, 0))
    small = canvas.resize((out_w + margin, out_h + margin), Image.Resampling.LANCZOS)
    return small.crop((0, 0, out_w, out_h))


def process_rendered(image: Image.Image, white: int = 255) -> Image.Image:
    """The paper's steps short of bucketing: crop to the ink, pad 8 px, downsample ×2."""
    return downsample(pad(crop_to_ink(image, white)))


def choose_bucket(size: Size, buckets: Sequence[Size] = PAPER_BUCKETS) -> Size | None:
    """The first bucket (in list order, as the authors' code) that holds `size`, or None."""
    width, height = size
    return next((b for b in buckets if width <= b[0] and height <= b[1]), None)


def pad_to_bucket(image: Image.Image, buckets: Sequence[Size] = PAPER_BUCKETS) -> Image.Image:
    """The image in the top-left corner of its bucket, on white; too large raises `ValueError`."""
    bucket = choose_bucket(image.size, buckets)
    if bucket is None:
        raise ValueError(f"image of {image.width}×{image.height} px fits no bucket")
    out = Image.new("L", bucket, 255)
    out.paste(image.convert("L"), (0, 0))
    return out
