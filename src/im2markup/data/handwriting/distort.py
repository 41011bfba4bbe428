"""Turn a typeset formula into something that looks written by hand with a pen.

Applied to the rasterized page, in this order:

1. every connected piece of ink (a glyph, a fraction bar, a radical, an integral sign) gets its
   own small random affine map — scale, rotation, shear and shift — limited so that no point of
   a long piece moves more than `max_glyph_move` pixels and neighbours stay apart;
2. the whole image is warped once: a global scale, a slant, a slowly drifting baseline and an
   elastic displacement field;
3. the strokes are thinned to their skeleton and redrawn with a round pen of one random width,
   so font strokes (thick and thin) and the CROHME bitmaps (uniform ink) look alike.

The output is binary, dark ink (0) on white (255), at the scale of the CROHME bitmaps when the
page was rasterized at `RASTER_DPI`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

# Pixels darker than this are ink. Generous, because the strokes are thinned and redrawn anyway
# and a hairline must not fall apart.
INK_LEVEL = 192
# Interpolated coverage above this is ink after the geometric changes: low, for the same reason.
COVERAGE_LEVEL = 0.3
# Rasterizing the 12 pt template at this resolution makes capitals about 34 px tall, the size
# of the symbols in the CROHME 2014 test bitmaps.
RASTER_DPI = 300


@dataclass(frozen=True)
class Distortion:
    """Ranges of the random changes; pixel values are at the output scale."""

    glyph_scale: float = 0.08  # standard deviation of log(scale) per glyph
    glyph_rotation: float = 4.0  # degrees, standard deviation per glyph
    glyph_shear: float = 0.08  # standard deviation per glyph
    glyph_shift: float = 1.5  # pixels, standard deviation per glyph and axis
    max_glyph_move: float = 5.0  # pixels any point of a glyph may move by its own map
    spread_rows: tuple[float, float] = (1.0, 1.35)  # factor on the distances between glyphs
    spread_cols: tuple[float, float] = (1.05, 1.45)
    scale: tuple[float, float] = (0.85, 1.15)  # whole image
    slant: tuple[float, float] = (-10.0, 10.0)  # degrees, whole image
    baseline_drift: float = 3.0  # pixels, amplitude of the vertical wander along the line
    elastic_alpha: float = 2.0  # pixels, size of the elastic displacements
    elastic_sigma: float = 8.0  # pixels, smoothness of the elastic field
    pen_width: tuple[float, float] = (2.9, 4.6)  # pixels, diameter of the redrawn strokes


def handwrite(
    page: Image.Image, rng: np.random.Generator, spec: Distortion | None = None
) -> Image.Image:
    """A handwritten-looking version of `page` (any grayscale image of dark ink on white).

    Raises `ValueError` for a page without ink (or whose only specks vanish when distorted).
    Equal generator states give equal images.
    """
    spec = spec or Distortion()
    ink = np.asarray(page.convert("L")) < INK_LEVEL
    margin = int(np.ceil(spec.max_glyph_move + 3 * spec.glyph_shift)) + 2
    coverage = _jitter_glyphs(_crop(ink, margin), rng, spec)
    ink = _restroke(_warp(coverage, rng, spec), rng.uniform(*spec.pen_width))
    return Image.fromarray(np.where(_crop(ink, 2), 0, 255).astype(np.uint8), mode="L")


def _crop(ink: np.ndarray, margin: int) -> np.ndarray:
    """The ink's bounding box with `margin` empty pixels on every side."""
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        raise ValueError("no ink left")
    cols = np.flatnonzero(ink.any(axis=0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(box, margin)


def _jitter_glyphs(ink: np.ndarray, rng: np.random.Generator, spec: Distortion) -> np.ndarray:
    """Spread the connected components apart and move each by its own small affine map.

    Handwriting is looser than typesetting: component centres move away from each other by a
    random factor per axis, and wide flat pieces (fraction bars, minus signs, radical tops) are
    stretched by the horizontal factor so they still span what they spanned. Returns the ink
    coverage (0…1, interpolated), so that thin strokes survive until the one threshold after
    the global warp.
    """
    spread = np.array([rng.uniform(*spec.spread_rows), rng.uniform(*spec.spread_cols)])
    labels, _ = ndimage.label(ink, structure=np.ones((3, 3)))
    out = np.zeros(np.ceil(np.array(ink.shape) * spread).astype(int), dtype=np.float32)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        size = np.array([box[0].stop - box[0].start, box[1].stop - box[1].start])
        matrix = _glyph_matrix(rng, spec, size / 2)
        if size[1] > 2 * size[0]:
            matrix = matrix @ np.diag([1.0, spread[1]])
        limit = 2 * spec.glyph_shift
        shift = np.clip(rng.normal(0, spec.glyph_shift, 2), -limit, limit)
        centre = np.array([box[0].start + box[0].stop - 1, box[1].start + box[1].stop - 1]) / 2
        target = centre * spread + shift
        # The output window holds the moved piece: its corners' reach plus one pixel.
        reach = np.abs(matrix) @ (size / 2) + 1
        low = np.maximum(np.floor(target - reach).astype(int), 0)
        high = np.minimum(np.ceil(target + reach).astype(int) + 1, out.shape)
        piece = (labels[box] == index).astype(np.float32)
        origin = np.array([box[0].start, box[1].start])
        # Output pixel p (window coordinates) comes from matrix⁻¹ (p + low − target) + centre.
        inverse = np.linalg.inv(matrix)
        offset = inverse @ (low - target) + centre - origin
        window = (slice(low[0], high[0]), slice(low[1], high[1]))
        moved = ndimage.affine_transform(
            np.pad(piece, 1), inverse, offset=offset + 1, output_shape=tuple(high - low), order=1
        )
        np.maximum(out[window], moved, out=out[window])
    return out


def _glyph_matrix(rng: np.random.Generator, spec: Distortion, half: np.ndarray) -> np.ndarray:
    """Random scale · shear · rotation in (row, col) coordinates, damped for large pieces."""
    scale = np.exp(
        rng.normal(0, spec.glyph_scale, 2).clip(-2 * spec.glyph_scale, 2 * spec.glyph_scale)
    )
    angle = np.deg2rad(rng.normal(0, spec.glyph_rotation))
    shear = rng.normal(0, spec.glyph_shear)
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    matrix = rotation @ np.array([[1.0, 0.0], [shear, 1.0]]) @ np.diag(scale)
    corners = np.array([[half[0], half[1]], [half[0], -half[1]]])
    move = np.abs((matrix - np.eye(2)) @ corners.T).max()
    if move > spec.max_glyph_move:
        matrix = np.eye(2) + (matrix - np.eye(2)) * (spec.max_glyph_move / move)
    return matrix


def _warp(coverage: np.ndarray, rng: np.random.Generator, spec: Distortion) -> np.ndarray:
    """Global scale, slant, baseline drift and elastic field in one resampling → ink mask."""
    scale = rng.uniform(*spec.scale)
    slant = np.tan(np.deg2rad(rng.uniform(*spec.slant)))
    height, width = coverage.shape
    extra = int(np.ceil(abs(slant) * height * scale))
    out_h, out_w = round(height * scale), round(width * scale) + extra
    rows, cols = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    drift = _smooth_noise(rng, (1, out_w), out_h * 1.5 + 60, spec.baseline_drift)
    elastic = [
        _smooth_noise(rng, (out_h, out_w), spec.elastic_sigma, spec.elastic_alpha) for _ in range(2)
    ]
    # Slant leans tops to the right: columns shift with the height above the middle line.
    lean = (rows - out_h / 2) * slant - extra / 2
    src_rows = (rows + drift + elastic[0]) / scale
    src_cols = (cols + lean + elastic[1]) / scale
    warped = ndimage.map_coordinates(coverage, [src_rows, src_cols], order=1, cval=0.0)
    return warped > COVERAGE_LEVEL


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float, amplitude: float
) -> np.ndarray:
    """Gaussian-smoothed noise of `shape`, rescaled so its largest magnitude is `amplitude`.

    Drawn on a grid `sigma / 2` times coarser and interpolated up: the field is smooth at that
    scale anyway, and a full-size filter would dominate the cost of `handwrite`.
    """
    step = max(1, int(sigma / 2))
    coarse = tuple(-(-n // step) + 1 for n in shape)
    field = ndimage.gaussian_filter(
        rng.standard_normal(coarse).astype(np.float32), sigma / step, mode="wrap"
    )
    size = (coarse[1] * step, coarse[0] * step)
    field = np.asarray(Image.fromarray(field).resize(size, Image.Resampling.BILINEAR))
    field = field[: shape[0], : shape[1]]
    peak = np.abs(field).max()
    return field * (amplitude / peak) if peak > 0 else field


def _restroke(ink: np.ndarray, pen_width: float) -> np.ndarray:
    """Redraw the skeleton of `ink` with a round pen `pen_width` pixels wide."""
    skeleton = skeletonize(ink)
    if not skeleton.any():
        return ink
    distance = ndimage.distance_transform_edt(~skeleton)
    return distance <= pen_width / 2
