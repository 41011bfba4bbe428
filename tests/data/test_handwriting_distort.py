"""The pen-stroke distortions on drawn pages (no TeX needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.morphology import skeletonize

from im2markup.data.handwriting.distort import Distortion, handwrite


def _page() -> Image.Image:
    """Strokes 2, 7 and 14 px wide: a thin line, a letter-like ring, a heavy bar."""
    page = Image.new("L", (420, 160), 255)
    draw = ImageDraw.Draw(page)
    draw.line([(20, 40), (180, 60)], fill=0, width=2)
    draw.ellipse([(220, 20), (300, 100)], outline=0, width=7)
    draw.rectangle([(30, 110), (390, 124)], fill=0)
    draw.line([(340, 20), (380, 90)], fill=0, width=4)
    return page


def _stroke_widths(image: Image.Image) -> np.ndarray:
    """Diameter of the largest disc centred on each skeleton pixel (2 × distance to white)."""
    ink = np.asarray(image) < 128
    return 2 * ndimage.distance_transform_edt(ink)[skeletonize(ink)]


def test_strokes_are_redrawn_with_one_pen_width() -> None:
    before = _stroke_widths(_page())
    assert before.max() - before.min() >= 10  # the drawn page mixes 2 px and 14 px strokes
    for seed in range(4):
        image = handwrite(_page(), np.random.default_rng(seed))
        widths = _stroke_widths(image)
        median = np.median(widths)
        assert 2.5 <= median <= 6.5
        assert np.mean(np.abs(widths - median) <= 1.0) >= 0.8, seed


def test_output_is_binary_dark_ink_on_white_with_a_white_border() -> None:
    image = handwrite(_page(), np.random.default_rng(0))
    pixels = np.asarray(image)
    assert image.mode == "L"
    assert set(np.unique(pixels)) == {0, 255}
    assert (pixels[0] == 255).all() and (pixels[-1] == 255).all()
    assert (pixels[:, 0] == 255).all() and (pixels[:, -1] == 255).all()


def test_same_generator_state_gives_the_same_image() -> None:
    first = np.asarray(handwrite(_page(), np.random.default_rng(7)))
    again = np.asarray(handwrite(_page(), np.random.default_rng(7)))
    other = np.asarray(handwrite(_page(), np.random.default_rng(8)))
    assert np.array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_pieces_keep_their_order_and_count() -> None:
    """Jitter and spreading move pieces a little; they neither vanish nor swap places."""
    spec = Distortion(slant=(0.0, 0.0), elastic_alpha=0.0, baseline_drift=0.0)
    image = handwrite(_page(), np.random.default_rng(3), spec)
    labels, count = ndimage.label(np.asarray(image) < 128, structure=np.ones((3, 3)))
    assert count == 4
    centres = ndimage.center_of_mass(labels > 0, labels, range(1, count + 1))
    *upper, bar = sorted(centres)  # by row: the bar is the lowest piece
    assert bar[0] > max(row for row, _ in upper) + 20
    # Left to right above the bar: the thin line, the ring, the short stroke.
    columns = [col for _, col in sorted(upper, key=lambda c: c[1])]
    assert columns[1] - columns[0] > 60 and columns[2] - columns[1] > 40


def test_blank_page_is_refused() -> None:
    with pytest.raises(ValueError, match="no ink"):
        handwrite(Image.new("L", (50, 30), 255), np.random.default_rng(0))
