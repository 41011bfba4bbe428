"""Stroke weight: thin high-resolution renders are thickened to the training renders' weight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2markup.data.formula_images import render_formulas
from im2markup.data.images.stroke_weight import (
    CHOICE_SCALE,
    MIN_SCALE,
    TRAINING_STROKE_RATIO,
    match_stroke_weight,
    stroke_variants,
    stroke_width,
)
from im2markup.data.images.user_images import estimate_scale, glyph_height, read_user_image
from im2markup.serving.inputs import prepare_inputs
from im2markup.serving.limits import Limits

pytestmark = [pytest.mark.shared_data, pytest.mark.latex]


@pytest.fixture(scope="module")
def formulas(im2latex_dir: Path) -> list[str]:
    lines = (im2latex_dir / "formulas" / "val.formulas.norm.txt").read_text().splitlines()
    return lines[:24]


def grays(formulas: list[str], **options: object) -> list[np.ndarray]:
    renders = render_formulas(formulas, style="paper", **options)
    return [read_user_image(r.image) for r in renders if r.image is not None]


def ratio(gray: np.ndarray) -> float:
    height = glyph_height(gray)
    assert height is not None
    width = stroke_width(gray, height)
    assert width is not None
    return width / height


def test_training_ratio_is_that_of_the_training_renders(formulas: list[str]) -> None:
    measured = np.median([ratio(gray) for gray in grays(formulas)])
    assert abs(measured / TRAINING_STROKE_RATIO - 1) < 0.12, measured


def test_thin_high_resolution_strokes_are_thickened_to_the_training_weight(
    formulas: list[str],
) -> None:
    thin = grays(formulas, processed=False, composited=True, dpi=400)
    before, after = [], []
    for gray in thin:
        scale = estimate_scale(gray)
        assert scale is not None and scale > MIN_SCALE
        before.append(ratio(gray))
        after.append(ratio(match_stroke_weight(gray, glyph_height(gray), scale)))
    assert np.median(before) < 0.75 * TRAINING_STROKE_RATIO
    assert abs(np.median(after) / TRAINING_STROKE_RATIO - 1) < 0.12, np.median(after)


def test_bold_images_near_the_training_scale_are_read_as_they_are(formulas: list[str]) -> None:
    copies = 0
    for gray in grays(formulas):
        height, scale = glyph_height(gray), estimate_scale(gray)
        variants = stroke_variants(gray, height, scale)
        assert variants[0] is gray
        if scale < MIN_SCALE:
            assert match_stroke_weight(gray, height, scale) is gray
        copies += len(variants) - 1
    # The ratio is noisy per formula, so a few bold ones still get a copy.
    assert copies <= len(formulas) // 8


def test_thin_strokes_near_the_training_scale_get_a_heavier_copy(formulas: list[str]) -> None:
    before, after = [], []
    for gray in grays(formulas, processed=False, composited=True, dpi=120):
        height, scale = glyph_height(gray), estimate_scale(gray)
        variants = stroke_variants(gray, height, scale)
        if scale < CHOICE_SCALE:
            assert variants == [gray]
        elif len(variants) == 2:
            before.append(ratio(gray))
            after.append(ratio(variants[1]))
    # Far more often than bold ones (previous test).
    assert len(after) >= len(formulas) // 2
    assert np.median(before) < 0.75 * TRAINING_STROKE_RATIO
    assert abs(np.median(after) / TRAINING_STROKE_RATIO - 1) < 0.15, np.median(after)


def test_a_large_image_is_read_at_both_weights(formulas: list[str]) -> None:
    shot = render_formulas(formulas[:1], processed=False, composited=True, dpi=300)[0].image
    both = prepare_inputs(shot, Limits())
    plain = prepare_inputs(shot, Limits(), heavier_strokes=False)
    assert len(both.candidates) == 2 * len(plain.candidates)
    heavier = both.candidates[len(plain.candidates) :]
    # Thin strokes shrink to gray; heavier ones keep more of their ink dark.
    pairs = zip(heavier, plain.candidates, strict=True)
    assert all(dark_share(h) > dark_share(p) for h, p in pairs)


def dark_share(pixels: np.ndarray) -> float:
    return float((pixels < 128).sum() / (pixels < 250).sum())
