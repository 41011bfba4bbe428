"""A formula's image out of a screenshot: its box, cropped to the ink, with a margin of page.

Polarity-blind, so that light ink on a dark page is cropped the same way as dark on light: ink
is whatever differs clearly from the page's own gray.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from im2markup.data.images.preprocess import ink_bbox, pad

# Gray levels (of 255) between page and ink below which a pixel counts as page: keeps the
# faint anti-aliased rims, leaves out nothing a reader would see.
INK_DIFFERENCE = 24

Box = tuple[int, int, int, int]


def page_background(strip: np.ndarray) -> int:
    """The page's gray level: the most common one in a screenshot of formulas on a page."""
    return int(np.bincount(strip.ravel(), minlength=256).argmax())


def crop_formula(strip: np.ndarray, box: Box, background: int, margin: int) -> Image.Image | None:
    """The ink inside `box` (left, top, right, bottom) of the gray `strip`, padded by `margin`
    pixels of `background`; None when the box holds no ink."""
    left, top, right, bottom = box
    region = strip[max(top, 0) : bottom, max(left, 0) : right]
    contrast = np.abs(region.astype(np.int16) - background).astype(np.uint8)
    ink = ink_bbox(255 - contrast, white=255 - INK_DIFFERENCE)
    if ink is None:
        return None
    x0, y0, x1, y1 = ink
    return pad(Image.fromarray(region[y0:y1, x0:x1]), margin, fill=background)
