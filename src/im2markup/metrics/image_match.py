"""Image metrics of the paper: gold and prediction rendered alike, compared column by column.

Definitions follow the authors' `scripts/evaluation/evaluate_image.py`:

* An image is binarized (a pixel ≤ 128 is ink) and read left to right as a sequence of pixel
  columns. Both images are first cropped to their ink and the shorter one is padded with blank
  rows at the bottom, so they are top-aligned at a common height (the script receives images
  cropped to ink and pads the shorter one at the bottom).
* **Image edit distance** is the Levenshtein distance between the two column sequences, where
  two columns are equal only when every pixel is; the corpus score is
  1 − Σ distance / Σ max(gold columns, predicted columns).
* **Exact match**: columns differing in fewer than 5 pixels count as equal (each column is
  mapped to the first earlier column within that tolerance, gold columns first, as the script
  does); the images match when every differing run in the alignment of the two sequences is
  narrower than 5 columns. The script measures a run's width on the gold side only, so an
  inserted run of any width passes; here a run is tolerated only if it is narrower than 5 columns
  on *both* sides. `match_script` keeps the script's literal rule so that figures can be put
  next to the published ones.
* **Exact match −ws** applies the same test after dropping blank columns from both images.
* A prediction that did not render (or is missing or empty) scores no match and distance equal
  to the gold's column count, i.e. contributes 0 to the edit score, as in the script.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

INK_THRESHOLD = 128
PIXEL_TOLERANCE = 5
RUN_TOLERANCE = 5

ImageLike = Image.Image | np.ndarray


@dataclass(frozen=True)
class ImageComparison:
    """One gold/prediction pair: column edit distance, its denominator, and the match flags."""

    distance: int
    length: int
    match: bool
    match_nows: bool
    match_script: bool


def ink_crop(image: ImageLike) -> np.ndarray:
    """The grayscale pixels inside the bounding box of the ink (pixels ≤ `INK_THRESHOLD`).

    An image without ink gives a `0 × 0` array.
    """
    pixels = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    if pixels.ndim != 2:
        raise ValueError(f"expected a grayscale image, got an array of shape {pixels.shape}")
    ink = pixels <= INK_THRESHOLD
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=pixels.dtype)
    return pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def ink_columns(image: ImageLike) -> np.ndarray:
    """Binary ink mask cropped to the ink's bounding box, as columns: `W × H` bool."""
    return (ink_crop(image) <= INK_THRESHOLD).T.copy()


def top_aligned(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pad two column masks with blank rows at the bottom to the taller one's height."""
    height = max(gold.shape[1], pred.shape[1])

    def pad(cols: np.ndarray) -> np.ndarray:
        return np.pad(cols, ((0, 0), (0, height - cols.shape[1])))

    return pad(gold), pad(pred)


def compare_images(gold: ImageLike, pred: ImageLike | None) -> ImageComparison:
    """Compare a gold render with a prediction render (`None` when the prediction failed)."""
    gold_cols = ink_columns(gold)
    if pred is None:
        width = gold_cols.shape[0]
        return ImageComparison(width, width, False, False, False)
    gold_cols, pred_cols = top_aligned(gold_cols, ink_columns(pred))
    return compare_columns(gold_cols, pred_cols)


def compare_columns(gold_cols: np.ndarray, pred_cols: np.ndarray) -> ImageComparison:
    """The metrics on two top-aligned column masks of equal height (`W × H` bool)."""
    if gold_cols.shape[0] == 0 and pred_cols.shape[0] == 0:
        return ImageComparison(0, 0, True, True, True)
    # Each column as its packed bits; equal columns get equal ints, numbered by first appearance.
    packed = np.packbits(np.concatenate([gold_cols, pred_cols]), axis=1)
    numbering: dict[bytes, int] = {}
    labels = np.array([numbering.setdefault(c.tobytes(), len(numbering)) for c in packed])
    n_gold = gold_cols.shape[0]
    gold_ids, pred_ids = labels[:n_gold], labels[n_gold:]
    distance = int(Levenshtein.distance(gold_ids.tolist(), pred_ids.tolist()))
    length = max(n_gold, pred_ids.size)
    if distance == 0:
        return ImageComparison(0, length, True, True, True)

    unique = packed[np.unique(labels, return_index=True)[1]]
    tolerant = _tolerant_labels(unique)
    gold_t, pred_t = tolerant[gold_ids], tolerant[pred_ids]
    match = _runs_narrow(gold_t, pred_t, gold_side_only=False)
    match_script = _runs_narrow(gold_t, pred_t, gold_side_only=True)

    blank = ~unique.any(axis=1)
    gold_nows, pred_nows = gold_t[~blank[gold_ids]], pred_t[~blank[pred_ids]]
    if gold_nows.size == 0 or pred_nows.size == 0:
        match_nows = gold_nows.size == pred_nows.size
    else:
        match_nows = _runs_narrow(gold_nows, pred_nows, gold_side_only=False)
    return ImageComparison(distance, length, match, match_nows, match_script)


def _tolerant_labels(unique: np.ndarray) -> np.ndarray:
    """Map each distinct column (packed bits, in order of first appearance, gold first) to the
    first earlier kept column differing from it in fewer than 5 pixels."""
    # Hamming distance between all pairs of distinct columns: popcount of the XOR of their bits.
    hamming = np.bitwise_count(unique[:, None, :] ^ unique[None, :, :]).sum(axis=2, dtype=np.int64)
    close = hamming < PIXEL_TOLERANCE
    kept = np.zeros(len(unique), dtype=bool)
    representative = np.arange(len(unique))
    for u in range(len(unique)):
        candidates = close[u, :u] & kept[:u]
        if candidates.any():
            representative[u] = candidates.argmax()
        else:
            kept[u] = True
    return representative


def _runs_narrow(gold: np.ndarray, pred: np.ndarray, *, gold_side_only: bool) -> bool:
    """True when every non-equal run of the alignment is narrower than 5 columns."""
    for op in Levenshtein.opcodes(gold.tolist(), pred.tolist()):
        if op.tag == "equal":
            continue
        width = op.src_end - op.src_start
        if not gold_side_only:
            width = max(width, op.dest_end - op.dest_start)
        if width >= RUN_TOLERANCE:
            return False
    return True


@dataclass(frozen=True)
class ImageScores:
    """Corpus image metrics in percent, over the items whose gold rendered."""

    image_edit_distance: float
    image_match: float
    image_match_nows: float
    image_match_script: float
    n: int


def aggregate(comparisons: Iterable[ImageComparison]) -> ImageScores:
    """Corpus scores: 100 · (1 − Σ distance / Σ length) and the percentages of matches."""
    items = list(comparisons)
    if not items:
        raise ValueError("image metrics of an empty corpus are undefined")
    length = sum(c.length for c in items)
    distance = sum(c.distance for c in items)
    edit = 100.0 * (1.0 - distance / length) if length else 100.0
    n = len(items)
    return ImageScores(
        image_edit_distance=edit,
        image_match=100.0 * sum(c.match for c in items) / n,
        image_match_nows=100.0 * sum(c.match_nows for c in items) / n,
        image_match_script=100.0 * sum(c.match_script for c in items) / n,
        n=n,
    )
