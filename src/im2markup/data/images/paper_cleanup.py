"""Writing on paper → ink on white: even out the light, take off printed rules and grids.

A phone photo of a sheet is brighter in one corner than in another, and the sheet may be ruled
or squared. Left as they are, the contrast stretch of `user_images` turns the dark corner and
the rules into ink. Here the paper is estimated where the ink is not (a grey closing wider
than any pen stroke, on a reduced copy, smoothed) and divided out, and faint lines that cross
nearly the whole image are lifted off. Pen strokes, darker than rules and never as long as the
sheet, stay.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

_WORK_SIDE = 400
"""The paper is estimated on a copy whose longer side is at most this many pixels."""
_CLOSING = 15
"""Width (px, on that copy) of the closing that removes the ink from the paper estimate."""
_RULE_SPAN = 0.85
"""A rule crosses at least this fraction of the image."""
_RULE_DARKNESS = 0.55
"""Rules are fainter than this (of full black, after the light is evened out)."""


def even_out_light(gray: np.ndarray) -> np.ndarray:
    """Dark ink on light paper (`uint8`) with the paper brought to an even white."""
    height, width = gray.shape
    shrink = max(1.0, max(height, width) / _WORK_SIDE)
    small_size = (max(1, round(width / shrink)), max(1, round(height / shrink)))
    small = np.asarray(Image.fromarray(gray).resize(small_size, Image.Resampling.BILINEAR))
    paper = ndimage.grey_closing(small, size=(_CLOSING, _CLOSING)).astype(np.float32)
    paper = ndimage.gaussian_filter(paper, _CLOSING / 2)
    full = np.asarray(
        Image.fromarray(paper, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    )
    even = gray.astype(np.float32) / np.maximum(full, 1.0) * 255.0
    return np.clip(np.rint(even), 0, 255).astype(np.uint8)


def remove_rules(gray: np.ndarray) -> np.ndarray:
    """`gray` without faint horizontal and vertical lines that run across nearly all of it."""
    darkness = 1.0 - gray.astype(np.float32) / 255.0
    height, width = gray.shape
    rules = np.zeros_like(darkness)
    for size in ((1, max(3, int(_RULE_SPAN * width))), (max(3, int(_RULE_SPAN * height)), 1)):
        lines = ndimage.grey_opening(darkness, size=size)
        rules = np.maximum(rules, np.where(lines < _RULE_DARKNESS, lines, 0.0))
    cleaned = np.clip(darkness - rules, 0.0, 1.0)
    return np.rint(255.0 * (1.0 - cleaned)).astype(np.uint8)


def clean_paper(gray: np.ndarray) -> np.ndarray:
    """`even_out_light`, then `remove_rules`: a photographed sheet as ink on white."""
    return remove_rules(even_out_light(gray))
