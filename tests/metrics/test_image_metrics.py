"""Image metrics on drawn images with known answers, and on real shared test images."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.evaluation.image_diff import GOLD_ONLY, PRED_ONLY, diff_overlay
from im2markup.metrics.image_match import (
    ImageComparison,
    aggregate,
    compare_images,
    ink_columns,
)


def blank(height: int = 30, width: int = 60) -> np.ndarray:
    return np.full((height, width), 255, dtype=np.uint8)


def glyphs() -> np.ndarray:
    """Two 'symbols' (blocks of 8 and 6 ink columns) separated by a 4-column gap."""
    image = blank()
    image[10:20, 5:13] = 0
    image[8:18, 17:23] = 0
    return image


def test_identical_images_match() -> None:
    result = compare_images(glyphs(), glyphs())
    assert result == ImageComparison(0, 18, True, True, True)


def test_binarization_threshold_and_cropping() -> None:
    gold = glyphs()
    pred = np.full((50, 90), 200, dtype=np.uint8)  # light grey (> 128) is paper, not ink
    pred[20:50, 30:90] = np.where(gold == 0, 128, 255)  # 128 is ink; different margins
    assert compare_images(gold, pred).distance == 0
    assert ink_columns(gold).shape == (18, 12)


def test_one_column_shifted_is_still_a_match() -> None:
    pred = blank()
    pred[10:20, 5:13] = 0
    pred[8:18, 18:24] = 0  # second symbol one column further right
    result = compare_images(glyphs(), pred)
    assert (result.distance, result.length) == (1, 19)
    assert result.match and result.match_nows


def test_wide_gap_fails_match_but_not_match_without_whitespace() -> None:
    pred = blank(width=80)
    pred[10:20, 5:13] = 0
    pred[8:18, 22:28] = 0  # gap 9 instead of 4: five more blank columns
    result = compare_images(glyphs(), pred)
    assert result.distance == 5
    assert not result.match
    assert result.match_nows


def test_columns_within_four_pixels_count_as_equal() -> None:
    pred = glyphs()
    pred[25:29, 5:13] = 0  # four extra ink pixels in each of eight columns
    result = compare_images(glyphs(), pred)
    assert result.distance == 8  # the edit distance itself has no tolerance
    assert result.match
    pred[24, 5:13] = 0  # a fifth pixel: eight differing columns, a run wider than 4
    assert not compare_images(glyphs(), pred).match


def test_narrow_differing_run_is_tolerated_wide_one_is_not() -> None:
    narrow = glyphs()
    narrow[8:14, 17:21] = 255  # four columns changed by six pixels each
    assert compare_images(glyphs(), narrow).match
    wide = glyphs()
    wide[8:14, 17:22] = 255  # five columns
    assert not compare_images(glyphs(), wide).match


def test_extra_symbol_is_no_match_though_the_script_rule_lets_it_pass() -> None:
    pred = blank(width=80)
    pred[:, :60] = glyphs()
    pred[10:20, 30:40] = 0  # a third symbol after the gold's two
    result = compare_images(glyphs(), pred)
    assert not result.match and not result.match_nows
    assert result.match_script  # evaluate_image.py measures runs on the gold side only


def test_top_alignment_shifts_a_symbol_lower() -> None:
    pred = blank(height=40)
    pred[10:20, 5:13] = 0
    pred[18:28, 17:23] = 0  # second symbol 10 rows lower than in the gold
    assert not compare_images(glyphs(), pred).match


def test_failed_or_empty_prediction_scores_zero() -> None:
    failed = compare_images(glyphs(), None)
    assert failed == ImageComparison(18, 18, False, False, False)
    empty = compare_images(glyphs(), blank())
    assert (empty.distance, empty.length, empty.match, empty.match_nows) == (18, 18, False, False)
    scores = aggregate([compare_images(glyphs(), glyphs()), failed])
    assert scores.image_edit_distance == pytest.approx(50.0)
    assert scores.image_match == 50.0 and scores.n == 2


def test_diff_overlay_marks_missing_and_extra_ink() -> None:
    pred = glyphs()
    pred[8:18, 17:23] = 255  # prediction lacks the second symbol
    pred[22:26, 5:13] = 0  # and has ink the gold lacks under the first
    overlay = np.asarray(diff_overlay(glyphs(), pred))
    colours = {tuple(c) for c in overlay.reshape(-1, 3)}
    assert GOLD_ONLY in colours and PRED_ONLY in colours
    assert np.asarray(diff_overlay(glyphs(), None))[..., 1].min() == GOLD_ONLY[1]


@pytest.mark.shared_data
def test_real_images_against_themselves_and_each_other(im2latex_dir: Path) -> None:
    with tarfile.open(im2latex_dir / "images_test.tar") as tar:
        images = [
            Image.open(io.BytesIO(tar.extractfile(f"{k}.png").read())).convert("L") for k in (0, 1)
        ]
    assert compare_images(images[0], images[0].copy()).match
    other = compare_images(images[0], images[1])
    assert not other.match and not other.match_nows
    assert 0 < other.distance <= other.length
