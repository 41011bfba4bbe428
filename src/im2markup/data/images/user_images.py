"""Any image a user sends → a grayscale formula image at the scale the model was trained on.

Every failure is an `ImageInputError` with a reason a person can act on. The checks come in
the order that keeps a hostile file cheap: size on disk, then the header's pixel count (before
anything is decoded, so a 20000×20000 PNG never allocates gigabytes), then decoding.

Then: any mode (palette, 16-bit, CMYK, 1-bit, with or without alpha) becomes gray; light ink on
a dark background is inverted (decided from the border); contrast is stretched so the paper is
white and the darkest strokes black; grain on the paper is taken off (`grain`); the image is
rescaled so its glyphs are as tall as in the processed training images (an image much larger
than that first gets strokes as heavy as theirs, see `stroke_weight`); finally it is cropped
to the ink and padded like them. Since the scale estimate is only good to about ±20%,
`scale_candidates` offers a few factors around it for a caller that can afford to decode more
than once and keep the best reading.

The scale comes from the glyphs: the connected components of the ink, each measured by the
full width at half its own darkest value (robust to blur and anti-aliasing), and the 60th
percentile of their heights, fraction bars and rules left out. `TRAINING_GLYPH_HEIGHT` is that
statistic on the training renders (see its comment).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from im2markup.data.images.grain import remove_grain
from im2markup.data.images.paper_cleanup import clean_paper
from im2markup.data.images.preprocess import FACTOR, PAD, ink_bbox, pad
from im2markup.data.images.stroke_weight import match_stroke_weight, stroke_variants

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# `glyph_height` of the training formulas at the model's scale: the median over the first 500
# validation formulas is 9.7 px on `shared` processed renders and 11.6 px on `paper` ones (12 pt
# against 10 pt); with thin strokes (`composited=True`, full resolution, halved) 9.0 and 10.8
# px, since bold glyphs touch and merge more. User images are brought to the geometric mean of
# the four, so neither style nor stroke weight is more than ~13% off.
TRAINING_GLYPH_HEIGHT = 10.2
# What `scale_candidates` multiplies the estimated scale by; the best of these four decodes
# was chosen on 150 shared test images at five scales (`benchmarks/README.md`).
SCALE_MULTIPLIERS = (0.7, 0.85, 1.0, 1.2)
# Below this darkness (of 255) between paper and ink, an image counts as blank.
MIN_CONTRAST = 32
# Glyphs smaller than a quarter of the training size are enlarged only ×4.
MAX_UPSCALE = 4.0
# Pixels darker than this (after the contrast stretch) are ink for the crop.
_INK_LEVEL = 192
# Components are found at this fraction of full darkness and measured at half their own peak.
_COMPONENT_THRESHOLD = 0.25
_HEIGHT_PERCENTILE = 60
# Components this much wider than tall are bars and rules: they say nothing about the scale.
_MAX_ASPECT = 2.5
# Components smaller every way than this fraction of the wide glyphs (the 90th percentile of
# widths) are dots and specks. They are left out only where the percentile falls on one (an
# array of `\cdots` and `\ddots` has more dots than glyphs): leaving them out of every image
# moved the scale estimate of one paper-style render in five by over 5% and cost 3.4 points
# of match on the first 300 test formulas read as user images.
_SPECK_FRACTION = 0.3
# Images with a longer side than this are measured on a reduced copy.
_MEASURE_MAX_SIDE = 1200
# Glyphs measured to tell one formula from a page of text (a long formula has a few hundred).
_SIZE_SAMPLE = 500


# What went wrong, for callers that act on it (the HTTP API's status codes) without parsing
# the sentence: `unreadable` (the file cannot be opened), `too_large` (over a size limit),
# `empty` (no bytes or no pixels), `not_image` (no known image format), `unsupported` (an image
# mode that cannot become gray), `corrupt` (a known format, damaged), `no_ink` (blank),
# `not_formula` (far more ink than one formula: a page of text).
ImageErrorKind = Literal[
    "unreadable",
    "too_large",
    "empty",
    "not_image",
    "unsupported",
    "corrupt",
    "no_ink",
    "not_formula",
]


class ImageInputError(ValueError):
    """A user image that cannot be used; `reason` says why in words, `kind` in one word."""

    def __init__(self, reason: str, kind: ImageErrorKind):
        super().__init__(reason)
        self.reason = reason
        self.kind: ImageErrorKind = kind

    def __reduce__(self) -> tuple[type[ImageInputError], tuple[str, ImageErrorKind]]:
        """Pickled with its kind, so that it crosses from a screening process intact."""
        return type(self), (self.reason, self.kind)


def load_user_image(
    source: str | Path | bytes | Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    rescale: bool = True,
) -> Image.Image:
    """Grayscale ("L"), dark ink on white, cropped and padded, at the model's training scale.

    `rescale=False` keeps the image's own scale (only modes, polarity, contrast and crop).
    """
    gray = read_user_image(source, max_bytes=max_bytes, max_pixels=max_pixels)
    if not rescale:
        return at_scale(gray, 1.0, max_pixels)
    scale = estimate_scale(gray)
    if scale is not None:
        gray = match_stroke_weight(gray, scale * TRAINING_GLYPH_HEIGHT, scale)
    return at_scale(gray, estimate_scale(gray) or 1.0, max_pixels)


def read_user_image(
    source: str | Path | bytes | Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    clear_grain: bool = True,
    sheet: bool = False,
) -> np.ndarray:
    """The image as `uint8` gray, dark ink on white, cropped to the ink, at its own scale;
    grain on the paper taken off unless `clear_grain` is False. `sheet` says it is writing on
    paper: the light is evened out and rules and grids are taken off first (`paper_cleanup`)."""
    page = read_page(source, max_bytes=max_bytes, max_pixels=max_pixels, sheet=sheet)
    return _crop_to_ink(remove_grain(page) if clear_grain else page)


def read_page(
    source: str | Path | bytes | Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    sheet: bool = False,
) -> np.ndarray:
    """The whole image as `uint8` gray, dark ink on white with the contrast stretched, before
    anything is taken off or cropped (what `grain.grain_fraction` judges); with `sheet`, a
    light page's paper is evened out and its rules taken off first."""
    gray = _to_gray(_open(source, max_bytes, max_pixels))
    if sheet and np.median(_border(gray)) >= 128:
        gray = clean_paper(gray)
    return _normalize(gray)


def stroke_choices(gray: np.ndarray) -> list[np.ndarray]:
    """`read_user_image`'s output and, for a large or thin-stroked image, a heavier copy to
    read beside it (`stroke_weight.stroke_variants`)."""
    scale = estimate_scale(gray)
    if scale is None:
        return [gray]
    return stroke_variants(gray, scale * TRAINING_GLYPH_HEIGHT, scale)


def at_scale(gray: np.ndarray, factor: float, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """`read_user_image`'s output made `factor` times smaller, cropped and padded like the
    training images (enlarged at most `MAX_UPSCALE` times)."""
    if abs(factor - 1.0) > 0.03:
        factor = max(factor, 1 / MAX_UPSCALE)
        if gray.size / factor**2 > max_pixels:
            raise ImageInputError(
                "the formula is too large once brought to the model's scale", "too_large"
            )
        gray = _crop_to_ink(_resize(gray, 1.0 / factor))
    return pad(Image.fromarray(gray), PAD // FACTOR)


def scale_candidates(
    gray: np.ndarray,
    multipliers: tuple[float, ...] = SCALE_MULTIPLIERS,
    target: float = TRAINING_GLYPH_HEIGHT,
) -> list[float]:
    """The factors worth decoding `gray` at: its estimated scale times each multiplier, the
    multipliers nearest 1 first (the estimate is most often right), each factor once.

    One estimate is not enough: on renders at the training scale it spreads ±20% around 1,
    and a model reads a formula 15% too large or too small noticeably worse. Decoding at a
    few scales and keeping the reading the model is surest of recovers that (measured in
    `benchmarks/README.md`, "Reading user images at several scales").
    """
    estimate = estimate_scale(gray, target) or 1.0
    nearest_first = sorted(multipliers, key=lambda m: abs(math.log(m)))
    factors = [round(max(estimate * m, 1 / MAX_UPSCALE), 3) for m in nearest_first]
    return list(dict.fromkeys(factors))


def _crop_to_ink(gray: np.ndarray) -> np.ndarray:
    box = ink_bbox(gray, white=_INK_LEVEL)
    if box is None:
        raise ImageInputError("the image has no ink: it is blank or nearly uniform", "no_ink")
    left, top, right, bottom = box
    return gray[top:bottom, left:right]


def _open(source: str | Path | bytes | Image.Image, max_bytes: int, max_pixels: int) -> Image.Image:
    """Open and decode `source`, refusing empty, oversized, unreadable and truncated input."""
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels)
        return source
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif not isinstance(source, str | os.PathLike):
        reason = f"expected an image, a path or bytes, got {type(source).__name__}"
        raise ImageInputError(reason, "unreadable")
    else:
        data = _read_regular_file(Path(source), max_bytes)
    if not data:
        raise ImageInputError("the file is empty (0 bytes)", "empty")
    if len(data) > max_bytes:
        reason = f"the input is larger than the limit of {max_bytes} bytes"
        raise ImageInputError(reason, "too_large")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        reason = f"the image has more than the limit of {max_pixels} pixels"
        raise ImageInputError(reason, "too_large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        reason = "not an image, or an unsupported image format"
        raise ImageInputError(reason, "not_image") from None
    _check_pixels(image.size, max_pixels)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        reason = f"the image file is corrupt or truncated ({error})"
        raise ImageInputError(reason, "corrupt") from None
    return image


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path`, which must be a regular file: reading a FIFO would wait for a
    writer forever, and a device may never end. Opened without blocking, then checked."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ImageInputError(f"{path.name} is not a regular file", "unreadable")
            if info.st_size > max_bytes:
                reason = f"file of {info.st_size} bytes is larger than the limit of {max_bytes}"
                raise ImageInputError(reason, "too_large")
            return file.read(max_bytes + 1)
    except OSError as error:
        reason = f"cannot read {path.name}: {error.strerror or error}"
        raise ImageInputError(reason, "unreadable") from None


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageInputError(f"the image has no pixels ({width}×{height})", "empty")
    if width * height > max_pixels:
        raise ImageInputError(
            f"the image is {width}×{height} = {width * height} pixels, "
            f"more than the limit of {max_pixels}",
            "too_large",
        )


def _to_gray(image: Image.Image) -> np.ndarray:
    """`uint8` luminance; transparent areas become paper (see `_flatten`)."""
    with contextlib.suppress(OSError, SyntaxError, ValueError):  # broken EXIF: keep as stored
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _deep_to_gray(np.asarray(image))
    if (mode == "P" and "transparency" in image.info) or mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        return _flatten(image.convert("RGBA"))
    if mode == "P":
        image = image.convert("RGB")
    try:
        return np.asarray(image.convert("L"))
    except (ValueError, OSError):
        raise ImageInputError(f"unsupported image mode {mode}", "unsupported") from None


def _deep_to_gray(values: np.ndarray) -> np.ndarray:
    """16-bit, 32-bit and float images scaled into 0…255 by the range their values imply:
    floats within 0…1 are fractions of white; other values within 0…255 are 8-bit levels (a
    mode "F" image made from an 8-bit array), within 0…65535 16-bit ones; others are stretched."""
    is_float = values.dtype.kind == "f"
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1.0 and is_float:
        top = 1.0
    elif low >= 0 and high <= 255:
        top = 255.0
    elif low >= 0 and high <= 65535:
        top = 65535.0
    else:
        values, top = values - low, max(high - low, 1.0)
    return np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)


def _flatten(rgba: Image.Image) -> np.ndarray:
    """Composite on a paper the strokes stand out from, returned as dark ink on white.

    Light ink (a dark-mode export on a clear background) is composited on black and inverted,
    dark ink on white. Where anti-aliasing lives in the alpha channel, the partly transparent
    pixels carry the ink's colour; where alpha is all-or-nothing (palette images), light ink
    is assumed only over a dark transparent colour, the background the image was drawn for.
    """
    pixels = np.asarray(rgba).astype(np.float64)
    alpha = pixels[..., 3] / 255.0
    luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114])
    partial = (alpha > 0.05) & (alpha < 0.95)
    clear, opaque = alpha <= 0.05, alpha >= 0.95
    if partial.sum() >= 16:
        light_ink = np.median(luminance[partial]) > 128
    else:
        light_ink = (
            clear.any()
            and opaque.any()
            and np.median(luminance[clear]) < 128
            and np.median(luminance[opaque]) > 128
        )
    flat = 255.0 - luminance * alpha if light_ink else luminance * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(flat), 0, 255).astype(np.uint8)


def _border(gray: np.ndarray) -> np.ndarray:
    """The outer two pixels all around."""
    return np.concatenate(
        [gray[:2].ravel(), gray[-2:].ravel(), gray[:, :2].ravel(), gray[:, -2:].ravel()]
    )


def _normalize(gray: np.ndarray) -> np.ndarray:
    """Dark ink on white: invert a dark background, stretch paper → 255 and strokes → 0."""
    border = _border(gray)
    if np.median(border) < 128:
        gray = 255 - gray
        border = 255 - border
    paper = float(np.median(border))
    # Every step is a function of the gray level, so it is worked out once per level and
    # looked up: a full page costs one pass over its pixels, not several in float64.
    darkness = np.clip(paper - np.arange(256, dtype=np.float64), 0, None)
    # The fifth darkest pixel sets the black point (a few specks of dust do not).
    levels = np.cumsum(np.bincount(gray.ravel(), minlength=256))
    peak = float(darkness[int(np.searchsorted(levels, min(5, gray.size)))])
    if peak < MIN_CONTRAST:
        raise ImageInputError("the image has no ink: it is blank or nearly uniform", "no_ink")
    stretched = 255.0 - np.clip(darkness * (255.0 / peak), 0, 255)
    stretched[stretched > 242] = 255  # paper noise (JPEG, scanner) becomes paper
    return np.rint(stretched).astype(np.uint8)[gray]


def estimate_scale(
    gray: np.ndarray, target: float = TRAINING_GLYPH_HEIGHT, most_glyphs: int | None = None
) -> float | None:
    """How many times larger than the training images the glyphs are (None: nothing to measure).

    `target` is `glyph_height` of the model's training images (printed renders by default);
    `most_glyphs` bounds the components measured (`glyph_height`).
    """
    shrink = max(gray.shape) / _MEASURE_MAX_SIDE
    if shrink > 1:
        gray = _resize(gray, 1 / shrink)
    height = glyph_height(gray, most_glyphs)
    if height is None:
        return None
    return max(shrink, 1.0) * height / target


def size_in_glyphs(gray: np.ndarray, target: float = TRAINING_GLYPH_HEIGHT) -> tuple[float, float]:
    """(width, height) of `read_user_image`'s output in glyph heights, the unit the model's
    inputs are bounded in whatever the image's resolution; (0, 0) with nothing to measure.
    Quick on a page of text: the glyph height is measured on at most `_SIZE_SAMPLE` glyphs."""
    scale = estimate_scale(gray, target, _SIZE_SAMPLE)
    if scale is None:
        return 0.0, 0.0
    height, width = gray.shape
    return width / (scale * target), height / (scale * target)


def glyph_height(gray: np.ndarray, most_glyphs: int | None = None) -> float | None:
    """The 60th percentile of the ink components' heights (full width at half their peak),
    over all components, or over `most_glyphs` of them spread evenly when there are more;
    bars and rules are left out, and so are dots and specks where the percentile would fall
    on one."""
    darkness = (255.0 - gray.astype(np.float64)) / 255.0
    labels, count = ndimage.label(darkness >= _COMPONENT_THRESHOLD, structure=np.ones((3, 3)))
    # Each component with its one-pixel anti-aliased rim (where rims meet, one side wins).
    grown = ndimage.grey_dilation(labels, size=(3, 3))
    boxes = ndimage.find_objects(labels)
    numbers = range(1, count + 1)
    if most_glyphs is not None and count > most_glyphs:
        numbers = np.linspace(1, count, most_glyphs).astype(int).tolist()
    sizes = []
    for number in numbers:
        found = boxes[number - 1]
        if found is None:
            continue
        rows = slice(max(0, found[0].start - 1), found[0].stop + 1)
        cols = slice(max(0, found[1].start - 1), found[1].stop + 1)
        component = np.where(grown[rows, cols] == number, darkness[rows, cols], 0.0)
        level = component.max() / 2
        height = _half_max_width(component.max(axis=1), level)
        width = _half_max_width(component.max(axis=0), level)
        if height > 0 and width < _MAX_ASPECT * height:
            sizes.append((height, width))
    if not sizes:
        return None
    heights, widths = np.array(sizes).T
    height = float(np.percentile(heights, _HEIGHT_PERCENTILE))
    smallest_glyph = _SPECK_FRACTION * np.percentile(widths, 90)
    if height >= smallest_glyph:
        return height
    glyphs = np.maximum(heights, widths) >= smallest_glyph
    return float(np.percentile(heights[glyphs], _HEIGHT_PERCENTILE))


def _half_max_width(profile: np.ndarray, level: float) -> float:
    """Extent of `profile` above `level`, with the crossings interpolated between pixels."""
    above = np.flatnonzero(profile >= level)
    if above.size == 0:
        return 0.0
    first, last = int(above[0]), int(above[-1])
    start = first - 0.5
    if first > 0 and profile[first] != profile[first - 1]:
        start = first - (profile[first] - level) / (profile[first] - profile[first - 1])
    end = last + 0.5
    if last + 1 < profile.size and profile[last] != profile[last + 1]:
        end = last + (profile[last] - level) / (profile[last] - profile[last + 1])
    return end - start


def _resize(gray: np.ndarray, factor: float) -> np.ndarray:
    height, width = gray.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS))
