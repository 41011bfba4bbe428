"""Synthetic handwriting end to end: xelatex with the handwriting fonts, distortions, batches."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.morphology import skeletonize

from im2markup.data.formula_images import render_formulas
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TEST_IMAGES, read_captions
from im2markup.data.handwriting.distort import RASTER_DPI
from im2markup.data.handwriting.fonts import available_fonts
from im2markup.data.handwriting.render import render_handwritten, typeset_style


def _fonts_installed() -> bool:
    try:
        return bool(available_fonts())
    except (RuntimeError, OSError):
        return False


pytestmark = [
    pytest.mark.latex,
    pytest.mark.skipif(
        shutil.which("xelatex") is None or not _fonts_installed(),
        reason="xelatex or the handwriting fonts are not installed",
    ),
]

FORMULAS = [
    r"\frac { 1 } { 2 } + \sum _ { i = 1 } ^ { n } x _ { i } ^ { 2 }",
    r"\int _ { 0 } ^ { 1 } \sqrt { x } d x = \frac { 2 } { 3 }",
    r"\operatorname* { l i m } _ { x \rightarrow 0 } \frac { \operatorname { s i n } x } { x } = 1",
    r"( a + b ) ^ { 2 } \geq 4 a b",
    r"y \neq \{ A , B \} \times \alpha \beta",
]


@pytest.fixture(scope="module")
def raw_renders() -> list[Image.Image]:
    results = render_handwritten(FORMULAS, processed=False, seed=0)
    assert all(r.ok for r in results), [r.error for r in results]
    return [r.image for r in results if r.image is not None]


def _uniformity(image: Image.Image) -> float:
    """Share of skeleton pixels whose stroke diameter is within 1 px of the median one."""
    ink = np.asarray(image) < 128
    widths = 2 * ndimage.distance_transform_edt(ink)[skeletonize(ink)]
    return float(np.mean(np.abs(widths - np.median(widths)) <= 1.0))


def _piece_heights(image: Image.Image) -> list[int]:
    labels, _ = ndimage.label(np.asarray(image) < 128, structure=np.ones((3, 3)))
    return [box[0].stop - box[0].start for box in ndimage.find_objects(labels)]


def test_raw_images_are_binary_dark_ink_on_white(raw_renders: list[Image.Image]) -> None:
    for image in raw_renders:
        pixels = np.asarray(image)
        assert image.mode == "L" and set(np.unique(pixels)) == {0, 255}
        assert np.mean(pixels == 255) > 0.6


def test_strokes_are_uniform_unlike_the_typeset_fonts(raw_renders: list[Image.Image]) -> None:
    typeset = render_formulas(
        FORMULAS, typeset_style().name, processed=False, dpi=RASTER_DPI, composited=True
    )
    font_strokes = [_uniformity(r.image) for r in typeset if r.image is not None]
    pen_strokes = [_uniformity(image) for image in raw_renders]
    assert np.median(pen_strokes) >= 0.85
    assert np.median(pen_strokes) > np.median(font_strokes) + 0.1


def test_same_seed_same_images_other_seed_other_images(raw_renders: list[Image.Image]) -> None:
    again = render_handwritten(FORMULAS[:2], processed=False, seed=0)
    other = render_handwritten(FORMULAS[:2], processed=False, seed=1)
    for k in range(2):
        assert np.array_equal(np.asarray(again[k].image), np.asarray(raw_renders[k]))
        assert other[k].image is not None
        assert other[k].image.size != raw_renders[k].size or not np.array_equal(
            np.asarray(other[k].image), np.asarray(raw_renders[k])
        )


def test_a_bad_formula_costs_only_itself(raw_renders: list[Image.Image]) -> None:
    batch = [FORMULAS[0], r"x ^ { 2 } ^ { 3 }", FORMULAS[2], r"\frac { 1 } {", "", FORMULAS[4]]
    results = render_handwritten(batch, processed=False, seed=0)
    assert [r.index for r in results] == list(range(len(batch)))
    assert "Double superscript" in (results[1].error or "")
    assert "brace" in (results[3].error or "")
    assert results[4].error == "empty formula"
    # The good formulas at the same positions come out exactly as in a clean batch.
    for position, clean in ((0, 0), (2, 2), (5, None)):
        assert results[position].image is not None
        if clean is not None:
            assert np.array_equal(
                np.asarray(results[position].image), np.asarray(raw_renders[clean])
            )


def test_processed_images_are_cropped_padded_and_halved(raw_renders: list[Image.Image]) -> None:
    processed = render_handwritten(FORMULAS[:1], processed=True, seed=0)[0].image
    assert processed is not None
    ink = np.asarray(raw_renders[0]) < 128
    height = np.ptp(np.flatnonzero(ink.any(axis=1))) + 1 + 16
    width = np.ptp(np.flatnonzero(ink.any(axis=0))) + 1 + 16
    assert processed.size == (-(-width // 2), -(-height // 2))


@pytest.mark.shared_data
def test_symbols_are_as_tall_as_in_the_crohme_bitmaps(shared_dir: Path) -> None:
    """Same captions, real bitmaps vs synthetic: connected pieces of ink of similar height."""
    captions = read_captions(shared_dir / TEST_CAPTIONS)[:12]
    results = render_handwritten(
        [" ".join(to_normalized(tokens)) for _, tokens in captions], processed=False, seed=0
    )
    synthetic = [h for r in results if r.image is not None for h in _piece_heights(r.image)]
    wanted = {f"off_image_test/{sample_id}_0.bmp" for sample_id, _ in captions}
    real: list[int] = []
    with tarfile.open(shared_dir / TEST_IMAGES, "r:gz") as archive:
        for member in archive:
            if member.name in wanted:
                handle = archive.extractfile(member)
                assert handle is not None
                bitmap = Image.open(io.BytesIO(handle.read())).convert("L")
                real += _piece_heights(ImageOps.invert(bitmap))
    assert len(real) > 30 and len(synthetic) > 30
    assert 0.75 <= np.median(synthetic) / np.median(real) <= 1.33
