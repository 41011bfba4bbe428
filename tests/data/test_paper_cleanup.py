"""Photographed handwriting: the photo simulation, and reading it back as ink on white."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from im2markup.data.handwriting.ink_render import render_expression
from im2markup.data.handwriting.inkml import InkExpression, Symbol
from im2markup.data.handwriting.photo import PhotoOptions, photograph
from im2markup.data.images.paper_cleanup import clean_paper, even_out_light, remove_rules
from im2markup.data.images.user_images import read_user_image


def _drawing() -> Image.Image:
    """`x = 1` as pen strokes: a cross, two bars and an upright."""
    strokes = [
        np.array([[0.0, 0.0], [1.0, 1.0]]),
        np.array([[1.0, 0.0], [0.0, 1.0]]),
        np.array([[1.6, 0.35], [2.4, 0.35]]),
        np.array([[1.6, 0.7], [2.4, 0.7]]),
        np.array([[3.0, 0.2], [3.3, 0.0], [3.3, 1.0]]),
    ]
    symbols = [Symbol("x", (0, 1)), Symbol("=", (2, 3)), Symbol("1", (4,))]
    return render_expression(InkExpression("t", "c", "w", "", strokes, symbols))


def _ink(gray: np.ndarray) -> np.ndarray:
    return gray < 128


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The smaller of the two shares of each mask's ink within 2 px of the other's (masks of
    possibly different sizes, top-left aligned): 1 when the strokes coincide up to blur."""
    height, width = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    a, b = a[:height, :width], b[:height, :width]
    near_a, near_b = (ndimage.binary_dilation(m, iterations=2) for m in (a, b))
    return min(
        float((a & near_b).sum() / max(a.sum(), 1)), float((b & near_a).sum() / max(b.sum(), 1))
    )


@pytest.mark.parametrize(
    ("paper", "ink"), [("plain", "pen"), ("ruled", "pen"), ("squared", "pencil")]
)
def test_a_photographed_sheet_reads_back_as_the_drawing(paper: str, ink: str) -> None:
    drawing = _drawing()
    photo = photograph(drawing, np.random.default_rng(3), PhotoOptions(paper=paper, ink=ink))
    assert photo.mode == "RGB" and photo.width > drawing.width
    original = np.asarray(drawing)
    rows, cols = np.flatnonzero(_ink(original).any(axis=1)), np.flatnonzero(_ink(original).any(0))
    cropped = original[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    read = read_user_image(photo, sheet=True)
    assert _overlap(_ink(read), _ink(cropped)) > 0.9


def test_without_the_sheet_cleanup_a_pencil_photo_on_squared_paper_is_misread() -> None:
    drawing = _drawing()
    photo = photograph(drawing, np.random.default_rng(3), PhotoOptions("squared", "pencil"))
    plain = read_user_image(photo, sheet=False)
    original = np.asarray(drawing)
    assert plain.shape[0] > 2 * original.shape[0]  # grid lines taken for ink


def test_even_out_light_flattens_a_gradient_and_keeps_the_strokes() -> None:
    ys, xs = np.mgrid[0:120, 0:300]
    paper = 250 - 0.4 * xs - 0.2 * ys  # 250 at one corner, 106 at the other
    gray = paper.copy()
    gray[50:58, 40:260] = 20  # a pen stroke
    even = even_out_light(gray.astype(np.uint8))
    background = np.delete(even, np.s_[44:64], axis=0)
    assert background.min() > 225
    assert even[50:58, 60:240].max() < 80


def test_rules_go_and_a_dark_fraction_bar_across_the_image_stays() -> None:
    gray = np.full((100, 200), 255, dtype=np.uint8)
    gray[20, :] = 190  # a faint rule from edge to edge
    gray[60:63, 10:190] = 10  # a pen-dark bar across most of the image
    cleaned = remove_rules(gray)
    assert cleaned[20].min() >= 250
    assert cleaned[60:63, 20:180].max() <= 20


def test_clean_paper_leaves_a_clean_drawing_alone() -> None:
    gray = np.asarray(_drawing())
    assert _overlap(_ink(clean_paper(gray)), _ink(gray)) > 0.97
