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
    size_in_glyphs,
    stroke_choices,
)
from im2markup.model.deadline import check_deadline
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
    (see `user_images.scale_candidates` and `stroke_choices`), the rank of each candidate's
    scale among its stroke weight's (0: the estimate itself, then farther and farther from
    it), and the image padded at its own scale, which a render of the right formula in the
    right style reproduces pixel for pixel (for verification)."""

    candidates: list[np.ndarray]
    ranks: list[int]
    native: np.ndarray


def prepare_inputs(
    source: ImageSource,
    limits: Limits,
    multipliers: tuple[float, ...] = SCALE_MULTIPLIERS,
    heavier_strokes: bool = True,
    clear_grain: bool = True,
    glyph_height: float = TRAINING_GLYPH_HEIGHT,
    sheet: bool = False,
    deadline: float | None = None,
) -> ModelInputs:
    """Read `source` once and bring it (and a heavier copy, for a large or thin-stroked image)
    to every candidate scale that stays within the pixel limit; raises `ImageInputError` when
    the image is unusable, holds more than one formula's worth of ink or no scale fits.
    `glyph_height` is the glyph height of the model's training images
    (`user_images.glyph_height`), which the image's glyphs are scaled to; `sheet` reads it as
    writing on paper (`user_images.read_user_image`). Past `deadline` (`time.monotonic()`)
    it raises `DeadlineExceeded` between steps."""
    gray = read_formula(source, limits, clear_grain, glyph_height, sheet)
    candidates, ranks, refusal = [], [], None
    for variant in stroke_choices(gray) if heavier_strokes else [gray]:
        for rank, factor in enumerate(scale_candidates(variant, multipliers, glyph_height)):
            check_deadline(deadline)
            try:
                candidates.append(_in_bucket(at_scale(variant, factor, limits.max_pixels)))
                ranks.append(rank)
            except ImageInputError as error:
                refusal = error
    if not candidates:
        raise refusal or ImageInputError("no scale to read the image at", "too_large")
    return ModelInputs(candidates, ranks, np.asarray(at_scale(gray, 1.0)))


def read_formula(
    source: ImageSource,
    limits: Limits,
    clear_grain: bool = True,
    glyph_height: float = TRAINING_GLYPH_HEIGHT,
    sheet: bool = False,
) -> np.ndarray:
    """`source` read as `user_images.read_user_image` does, or `ImageInputError` when it is
    unusable or holds more than one formula's worth of ink: the cheap first step of
    `prepare_inputs`, which the server also takes on its own to refuse a page of text before
    it waits for a decoding worker."""
    gray = read_user_image(
        source,
        max_bytes=limits.max_bytes,
        max_pixels=limits.max_pixels,
        clear_grain=clear_grain,
        sheet=sheet,
    )
    _refuse_more_than_one_formula(gray, glyph_height, limits.max_formula_glyphs)
    return gray


def screen_image(
    source: ImageSource,
    limits: Limits,
    clear_grain: bool = True,
    glyph_height: float = TRAINING_GLYPH_HEIGHT,
    sheet: bool = False,
) -> None:
    """`read_formula` for its verdict only (nothing to send back from another process)."""
    read_formula(source, limits, clear_grain, glyph_height, sheet)


def _refuse_more_than_one_formula(
    gray: np.ndarray, glyph_height: float, most: tuple[float, float]
) -> None:
    """Refuse an image wider or taller than `most` glyph heights, before any copy of it is
    made at another scale: decoding a page of text costs minutes and reads nothing useful."""
    wide, tall = size_in_glyphs(gray, glyph_height)
    if wide > most[0] or tall > most[1]:
        raise ImageInputError(
            f"the image holds {wide:.0f} × {tall:.0f} glyph heights of ink, more than one "
            f"formula (at most {most[0]:.0f} × {most[1]:.0f}): a page of text or several "
            "formulas; crop it to the formula",
            "not_formula",
        )


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
    cannot be read), 422 otherwise (empty, corrupt, blank, unreadable, not one formula)."""
    return _STATUS.get(error.kind, 422)
