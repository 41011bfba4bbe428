"""Pen traces drawn as bitmaps: scale, pen, determinism, closeness to the CROHME test bitmaps."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.morphology import skeletonize

from im2markup.data.handwriting.crohme_reader import TEST_IMAGES
from im2markup.data.handwriting.ink_render import (
    InkAugment,
    InkStyle,
    draw,
    normalized_traces,
    render_expression,
    symbol_scale,
)
from im2markup.data.handwriting.inkml import InkExpression, Symbol, load_crohme2014_train_ink


def _pieces_and_width(image: Image.Image) -> tuple[float, float]:
    """Median height of the connected pieces of ink and median stroke width (px)."""
    ink = np.asarray(image.convert("L")) < 128
    labels, _ = ndimage.label(ink, structure=np.ones((3, 3)))
    heights = [box[0].stop - box[0].start for box in ndimage.find_objects(labels)]
    widths = 2 * ndimage.distance_transform_edt(ink)[skeletonize(ink)]
    return float(np.median(heights)), float(np.median(widths))


def _square(size: float, writer: str = "w") -> InkExpression:
    """A closed square stroke `size` units high and a bar, labelled as two symbols."""
    square = np.array([[0, 0], [size, 0], [size, size], [0, size], [0, 0]], dtype=float)
    bar = np.array([[size * 1.5, size / 2], [size * 2.5, size / 2]])
    return InkExpression(
        "t", "c", writer, "", [square, bar], [Symbol("o", (0,)), Symbol("-", (1,))]
    )


def test_scale_comes_from_the_symbols_not_the_device_units() -> None:
    small, large = _square(2.0), _square(2000.0)
    assert symbol_scale(small) == pytest.approx(2.0)
    assert symbol_scale(large) == pytest.approx(2000.0)  # the flat bar is left out
    a = np.asarray(render_expression(small))
    b = np.asarray(render_expression(large))
    assert a.shape == b.shape
    np.testing.assert_array_equal(a, b)


def test_the_drawing_has_the_style_s_symbol_height_pen_and_margin() -> None:
    style = InkStyle(symbol_height=40.0, pen_width=4.0, padding=10)
    image = draw(normalized_traces(_square(5.0)), style)
    pixels = np.asarray(image)
    assert set(np.unique(pixels)) == {0, 255}  # binary, like the test bitmaps
    rows = np.flatnonzero((pixels < 128).any(axis=1))
    assert rows[-1] - rows[0] + 1 == pytest.approx(40 + 4, abs=1)
    assert rows[0] == pytest.approx(10, abs=1)
    assert _pieces_and_width(image)[1] == pytest.approx(4.0, abs=0.6)


def test_too_large_drawings_are_refused() -> None:
    long = InkExpression("t", "c", "w", "", [np.array([[0.0, 0.0], [500.0, 1.0]])])
    with pytest.raises(ValueError, match="over 2400"):
        render_expression(long)


def test_augmentation_is_seeded_and_varies() -> None:
    ink = _square(3.0)
    first = render_expression(ink, augment=InkAugment(), rng=np.random.default_rng(5))
    again = render_expression(ink, augment=InkAugment(), rng=np.random.default_rng(5))
    other = render_expression(ink, augment=InkAugment(), rng=np.random.default_rng(6))
    np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
    assert first.size != other.size or not np.array_equal(np.asarray(first), np.asarray(other))


@pytest.mark.shared_data
def test_renders_of_training_inks_look_like_the_test_bitmaps(shared_dir: Path) -> None:
    """Symbol size and stroke width of 200 training renders against 200 real test bitmaps."""
    inks = load_crohme2014_train_ink(shared_dir)[::44][:200]
    ours = np.array([_pieces_and_width(render_expression(ink)) for ink in inks])
    theirs = []
    with tarfile.open(shared_dir / TEST_IMAGES, mode="r:gz") as archive:
        members = [m for m in archive.getmembers() if m.name.endswith(".bmp")][::4][:200]
        for member in members:
            handle = archive.extractfile(member)
            assert handle is not None
            with Image.open(io.BytesIO(handle.read())) as bitmap:
                theirs.append(_pieces_and_width(ImageOps.invert(bitmap.convert("L"))))
    ours_median, theirs_median = np.median(ours, axis=0), np.median(np.array(theirs), axis=0)
    assert ours_median[0] == pytest.approx(theirs_median[0], rel=0.1)
    assert ours_median[1] == pytest.approx(theirs_median[1], abs=0.5)
