"""A picture of where a prediction's render differs from the gold render.

The two images are aligned column by column exactly as the image edit distance aligns them, so a
missing symbol shows as one red block instead of shifting everything after it: black is ink in
both, red is gold ink the prediction lacks, blue is predicted ink the gold lacks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

from im2markup.metrics.image_match import ImageLike, ink_columns, top_aligned

WHITE = (255, 255, 255)
BOTH = (0, 0, 0)
GOLD_ONLY = (220, 30, 30)
PRED_ONLY = (30, 80, 230)
MARGIN = 4


def diff_overlay(gold: ImageLike, pred: ImageLike | None) -> Image.Image:
    """An RGB image of the column-aligned gold and prediction (all red if `pred` is None)."""
    gold_cols = ink_columns(gold)
    pred_cols = ink_columns(pred) if pred is not None else np.zeros((0, 0), dtype=bool)
    gold_cols, pred_cols = top_aligned(gold_cols, pred_cols)
    height = gold_cols.shape[1]
    gold_ids = _column_ids(gold_cols)
    pred_ids = _column_ids(pred_cols)
    blank = np.zeros(height, dtype=bool)
    aligned_gold: list[np.ndarray] = []
    aligned_pred: list[np.ndarray] = []
    for op in Levenshtein.opcodes(gold_ids, pred_ids):
        width = max(op.src_end - op.src_start, op.dest_end - op.dest_start)
        for k in range(width):
            g, p = op.src_start + k, op.dest_start + k
            aligned_gold.append(gold_cols[g] if g < op.src_end else blank)
            aligned_pred.append(pred_cols[p] if p < op.dest_end else blank)
    if not aligned_gold:
        return Image.new("RGB", (2 * MARGIN + 1, 2 * MARGIN + 1), WHITE)
    g = np.stack(aligned_gold, axis=1)
    p = np.stack(aligned_pred, axis=1)
    rgb = np.empty((*g.shape, 3), dtype=np.uint8)
    rgb[...] = WHITE
    rgb[g & p] = BOTH
    rgb[g & ~p] = GOLD_ONLY
    rgb[~g & p] = PRED_ONLY
    padded = np.pad(rgb, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)), constant_values=255)
    return Image.fromarray(padded)


def _column_ids(cols: np.ndarray) -> list[bytes]:
    """Each column as a hashable key, so the alignment compares whole columns."""
    return [column.tobytes() for column in np.packbits(cols, axis=1)] if cols.size else []
