"""Grain on the paper of a user image, taken off before the image is read.

The model was trained on clean renders, and grain (a scan, a photo in poor light; Gaussian
noise of σ 20 in the robustness suite) makes it misread most formulas. Grain is told from ink
by its texture: away from the strokes, a grainy image differs by more than `_DEVIATION` gray
levels from its own 3×3 median in about 27% of the paper pixels (25% or more for 95% of
images); a clean render, a blurred one or a JPEG at quality 30 in at most 14% (150 shared
validation images and 199 test renders per condition, `benchmarks/README.md`, "Grain").
Such an image gets a steeper tone curve that turns faint grain white and keeps the strokes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Fraction of paper pixels off their 3×3 median from which an image counts as grainy.
GRAINY_FRACTION = 0.2
_DEVIATION = 8
# A pixel is paper where its 3×3 median, and that of every pixel within `_MARGIN // 2`, is
# lighter than `_PAPER`.
_PAPER = 190
_MARGIN = 5
# The statistic is measured on a central window of at most this many pixels a side: on 2,443
# robustness-suite images (349 of them larger) it moves by at most 0.0006 from its value on a
# window of 1,024, and a page of text costs a quarter as much to screen.
_WINDOW = 512
# Darkness (0…1) mapped to white and to black by the tone curve of a grainy image.
_WHITE_BELOW, _BLACK_ABOVE = 0.25, 0.6


def grain_fraction(gray: np.ndarray) -> float:
    """Of the paper pixels of `gray` (uint8, dark ink on white), the fraction that differ by
    more than `_DEVIATION` levels from their 3×3 median; 0 without paper."""
    top = max(0, (gray.shape[0] - _WINDOW) // 2)
    left = max(0, (gray.shape[1] - _WINDOW) // 2)
    window = gray[top : top + _WINDOW, left : left + _WINDOW].astype(np.int16)
    median = ndimage.median_filter(window, size=3)
    # Paper: light, and not next to a stroke (where JPEG rings and anti-aliasing varies).
    paper = ndimage.minimum_filter(median, size=_MARGIN) > _PAPER
    if not paper.any():
        return 0.0
    return float((np.abs(window - median)[paper] > _DEVIATION).mean())


def remove_grain(gray: np.ndarray) -> np.ndarray:
    """`gray` with a tone curve that whitens darkness under `_WHITE_BELOW` and blackens it
    over `_BLACK_ABOVE`, when it looks grainy; otherwise `gray` itself."""
    if grain_fraction(gray) < GRAINY_FRACTION:
        return gray
    darkness = (255.0 - gray) / 255.0
    darkness = np.clip((darkness - _WHITE_BELOW) / (_BLACK_ABOVE - _WHITE_BELOW), 0.0, 1.0)
    return np.round(255.0 - 255.0 * darkness).astype(np.uint8)
