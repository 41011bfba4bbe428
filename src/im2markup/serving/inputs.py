"""From whatever a user hands over to the padded grayscale array the model reads.

The user-image loader does the untrusted part (size checks before decoding, colour modes,
dark backgrounds, scale, crop and margin); this module adds the size bucket of training and
maps a loader's complaint onto an HTTP status.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.images.buckets import bucket_for
from im2markup.data.images.user_images import (
    SCALE_MULTIPLIERS,
    TRAINING_GLYPH_HEIGHT,
    ImageInputError,
    at_scale,
    load_user_image,
    read_user_image,
    scale_candidates,
    stroke_choices,
)
from im2markup.serving.limits import Limits

ImageSource = Image.Image | str | os.PathLike | bytes


def describe(source: ImageSource) -> str:
    """How an error message names an input."""
    if isinstance(source, str | os.PathLike):
        return Path(source).name or str(source)
    if isinstance(source, bytes):
        return f"image of {len(source)} bytes"
    if isinstance(source, Image.Image):
        return f"{source.width}×{source.height} image"
    return f"input of type {type(source).__name__}"


@dataclass(frozen=True)
class ModelInputs:
    """One image ready to decode: the model input at each scale and stroke weight worth trying
    (see `user_images.scale_candidates` and `stroke_choices`) and the image padded at its own
    scale, which a render of the right formula in the right style reproduces pixel for pixel
    (for verification)."""

    candidates: list[np.ndarray]
    native: np.ndarray


def prepare_inputs(
    source: ImageSource,
    limits: Limits,
    multipliers: tuple[float, ...] = SCALE_MULTIPLIERS,
    heavier_strokes: bool = True,
    clear_grain: bool = True,
    glyph_height: float = TRAINING_GLYPH_HEIGHT,
    sheet: bool = False,
) -> ModelInputs:
    """Read `source` once and bring it (and a heavier copy, for a large or thin-stroked image)
    to every candidate scale that stays within the pixel limit; raises `ImageInputError` when
    the image is unusable or no scale fits. `glyph_height` is the glyph height of the model's
    training images (`user_images.glyph_height`), which the image's glyphs are scaled to;
    `sheet` reads it as writing on paper (`user_images.read_user_image`)."""
    gray = read_user_image(
        source,
        max_bytes=limits.max_bytes,
        max_pixels=limits.max_pixels,
        clear_grain=clear_grain,
        sheet=sheet,
    )
    candidates, refusal = [], None
    for variant in stroke_choices(gray) if heavier_strokes else [gray]:
        for factor in scale_candidates(variant, multipliers, glyph_height):
            try:
                candidates.append(_in_bucket(at_scale(variant, factor, limits.max_pixels)))
            except ImageInputError as error:
                refusal = error
    if not candidates:
        raise refusal or ImageInputError("no scale to read the image at", "too_large")
    return ModelInputs(candidates, np.asarray(at_scale(gray, 1.0)))


def native_image(source: ImageSource, limits: Limits) -> np.ndarray:
    """The image cropped and padded like the model input but at its own scale."""
    image = load_user_image(
        source, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, rescale=False
    )
    return np.asarray(image)


def _in_bucket(image: Image.Image) -> np.ndarray:
    width, height = bucket_for(image.height, image.width)
    pixels = np.full((height, width), 255, dtype=np.uint8)
    pixels[: image.height, : image.width] = np.asarray(image)
    return pixels


_STATUS: dict[str, int] = {"too_large": 413, "not_image": 415, "unsupported": 415}


def status_for(error: ImageInputError) -> int:
    """413 for sizes over a limit, 415 for data that is not an image (or an image mode that
    cannot be read), 422 otherwise (empty, corrupt, blank, unreadable)."""
    return _STATUS.get(error.kind, 422)
