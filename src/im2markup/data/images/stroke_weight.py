"""Thin strokes made as heavy as the training renders' before a large image is shrunk.

The training images were rasterized with every pixel a glyph touches counted as ink (see
`render.rasterize`), so their strokes are heavy: over 120 validation formulas in the paper's
style the median stroke is 0.131 of the glyph height. A formula typeset at high resolution
with anti-aliased strokes (a PDF viewer zoomed in, a screenshot of typeset math) has strokes
of about 0.086 of the glyph height (LaTeX at 400 and 600 dpi); shrunk to the model's scale
they turn thin and gray, and the model misreads them (`benchmarks/README.md`, "Thin
strokes"). So an image at least `MIN_SCALE` times the training scale with lighter strokes is
thickened by a minimum filter until they match.

The ratio is a noisy measure for one formula (0.09 to 0.19 among bold renders), and the glyph
height it divides by depends on how many glyphs touch, so a predictor that can afford it reads
both the image and a heavier copy (`stroke_variants`) and keeps the reading the model is surer
of. Near the training scale one pixel is too coarse a step, so there the copy is made from the
image enlarged to `FINE_SCALE`; a screenshot at 1.2 times the training scale with thin strokes
is then read right about twice as often (`benchmarks/README.md`, "Thin strokes").
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from im2markup.data.images.rescale import rescale

# Median stroke width / glyph height of processed paper-style renders (120 validation
# formulas; 0.146 on 400 shared test images, 0.086 on thin 400 and 600 dpi renders).
TRAINING_STROKE_RATIO = 0.131
# Only images whose glyphs are at least this many times the training size are thickened.
MIN_SCALE = 1.8
# From this scale a heavier copy is offered beside the image (`stroke_variants`).
CHOICE_SCALE = 0.7
# Below this scale one pixel is too coarse a step: the heavier copy is made from the image
# enlarged to `FINE_SCALE`.
COARSE_SCALE = 1.3
FINE_SCALE = 3.0
# Darkness (0…1) from which a pixel belongs to a run of ink.
_INK = 0.05
# Runs longer than this fraction of the glyph height cross a rule or bar, not a stroke.
_MAX_RUN = 0.5


def stroke_width(gray: np.ndarray, glyph_height: float) -> float | None:
    """The median ink of the horizontal runs that cross a stroke, in pixels of full darkness
    (a run's summed darkness, so anti-aliasing counts by its weight); None without strokes."""
    darkness = (255.0 - gray.astype(np.float64)) / 255.0
    edges = np.diff(np.pad(darkness > _INK, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    start_rows, start_cols = np.nonzero(edges == 1)
    end_rows, end_cols = np.nonzero(edges == -1)
    totals = np.pad(np.cumsum(darkness, axis=1), ((0, 0), (1, 0)))
    runs = totals[end_rows, end_cols] - totals[start_rows, start_cols]
    runs = runs[runs < _MAX_RUN * glyph_height]
    return float(np.median(runs)) if runs.size else None


def match_stroke_weight(gray: np.ndarray, glyph_height: float, scale: float) -> np.ndarray:
    """`gray` (dark ink on white, glyphs `glyph_height` px tall, `scale` times the training
    size) with its strokes widened to the training ratio; unchanged when already heavy enough
    or too small to change by whole pixels."""
    if scale < MIN_SCALE:
        return gray
    width = stroke_width(gray, glyph_height)
    if width is None:
        return gray
    # Widening by d pixels adds d to both the stroke and the glyph height.
    grow = round((TRAINING_STROKE_RATIO * glyph_height - width) / (1 - TRAINING_STROKE_RATIO))
    return widen(gray, grow) if grow >= 1 else gray


def stroke_variants(gray: np.ndarray, glyph_height: float, scale: float) -> list[np.ndarray]:
    """The versions of `gray` worth reading: itself, and from `CHOICE_SCALE` on a heavier copy.

    Below `COARSE_SCALE` the copy is the image enlarged to `FINE_SCALE` and matched to the
    training ratio there, offered only when that changes it. From `COARSE_SCALE` it is matched
    where `match_stroke_weight` changes it, else one pixel wider (large bold renders gain from
    that too).
    """
    if scale < CHOICE_SCALE:
        return [gray]
    if scale < COARSE_SCALE:
        factor = FINE_SCALE / scale
        enlarged = rescale(gray, factor)
        heavier = match_stroke_weight(enlarged, glyph_height * factor, FINE_SCALE)
        return [gray] if heavier is enlarged else [gray, heavier]
    heavier = match_stroke_weight(gray, glyph_height, scale)
    return [gray, heavier if heavier is not gray else widen(gray, 1)]


def widen(gray: np.ndarray, pixels: int) -> np.ndarray:
    """Every stroke of `gray` `pixels` wider and taller (the image grows by as much each side)."""
    padded = np.pad(gray, pixels, constant_values=255)
    return ndimage.minimum_filter(padded, size=pixels + 1)
