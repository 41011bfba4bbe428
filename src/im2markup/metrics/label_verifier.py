"""Does a render of a label show exactly what an image shows? The pseudo-label acceptance rule.

The paper's exact match (`image_match`) forgives differing columns narrower than
five pixels, which is about one glyph at the downsampled scale: on the validation set it
accepts most labels with one digit changed or a sub- and superscript swapped
(`benchmarks/verifier_calibration.py`). A training label must be stricter, so this rule
compares grey levels patch by patch:

* both images are cropped to their ink (pixels ≤ 128, as the image metrics do) and their crop
  sizes may differ by at most `MAX_SIZE_DIFFERENCE` pixels;
* the render is aligned with the image by the shift (±1 pixel) that minimizes their binary
  difference; then every `PATCH`×`PATCH` patch may move on its own by ±1 pixel horizontally and
  ±½ pixel steps up to ±1 vertically (a half step averages two neighbouring rows). The renders
  of other TeX and Ghostscript versions place a horizontal bar on one pixel row or across two
  half-dark rows, which no whole-pixel shift explains;
* **patch difference**: the largest over patches of the smallest summed absolute darkness
  difference (darkness 0 = white … 1 = black) must stay ≤ `MAX_PATCH_DIFFERENCE`;
* **lone ink**: dark pixels (≥ 0.2) of one image with no ink (< 0.1) within one pixel in the
  other are summed per patch; the largest sum must stay ≤ `MAX_LONE_INK`. This catches a
  missing full stop or prime, whose few pixels hide below the patch threshold.

The thresholds come from the calibration on the validation set, where the truth is known
(`benchmarks/README.md`, "Pseudo-label verifier"): 97.66% of the true labels pass (the paper's
exact match: 95.66%) and 0.135% of visible near misses (the paper's exact match: 63%).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from im2markup.metrics.image_match import ImageLike, ink_crop

PATCH = 6
MAX_SIZE_DIFFERENCE = 2
MAX_PATCH_DIFFERENCE = 5.0
MAX_LONE_INK = 0.5
DARK = 0.2
BLANK = 0.1
_MARGIN = 3


@dataclass(frozen=True)
class Verdict:
    """The rule's decision and the two measures it rests on (`reason` says why it refused)."""

    accepted: bool
    patch_difference: float
    lone_ink: float
    reason: str | None = None


def darkness(image: ImageLike) -> np.ndarray:
    """The image cropped to its ink as darkness in [0, 1] (`float32`); `0 × 0` without ink."""
    return (255.0 - ink_crop(image).astype(np.float32)) / 255.0


def verify(image: ImageLike, render: ImageLike | None) -> Verdict:
    """Whether `render` (a label typeset in the image's style) shows what `image` shows."""
    if render is None:
        return Verdict(False, float("inf"), float("inf"), "the label did not render")
    a, b = darkness(image), darkness(render)
    if a.size == 0 or b.size == 0:
        return Verdict(False, float("inf"), float("inf"), "an image without ink")
    dh, dw = abs(a.shape[0] - b.shape[0]), abs(a.shape[1] - b.shape[1])
    if max(dh, dw) > MAX_SIZE_DIFFERENCE:
        reason = f"ink boxes differ by {dh} rows and {dw} columns"
        return Verdict(False, float("inf"), float("inf"), reason)
    height, width = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    place = _Placer(height + 2 * _MARGIN, width + 2 * _MARGIN)
    target = place(a, 0, 0)
    dy0, dx0 = _global_shift(target, b, place)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    rendered = {(dy, dx): place(b, dy0 + dy, dx0 + dx) for dy, dx in shifts}
    original = {(dy, dx): place(a, dy, dx) for dy, dx in shifts}
    pairs = [(target, rendered[s]) for s in shifts]
    for dx in (-1, 0, 1):
        for top in (-1, 0):
            half_down = (rendered[(top, dx)] + rendered[(top + 1, dx)]) / 2
            pairs.append((target, half_down))
            pairs.append(((original[(top, dx)] + original[(top + 1, dx)]) / 2, rendered[(0, 0)]))
    difference = _worst_patch([np.abs(x - y) for x, y in pairs])
    lone = _worst_patch([_lone(target, rendered[s]) for s in shifts])
    if difference > MAX_PATCH_DIFFERENCE:
        reason = f"a {PATCH}x{PATCH} patch differs by {difference:.2f}"
    elif lone > MAX_LONE_INK:
        reason = f"ink without a counterpart ({lone:.2f})"
    else:
        reason = None
    return Verdict(reason is None, difference, lone, reason)


class _Placer:
    """Puts crops on a common blank canvas at a given offset from the margin."""

    def __init__(self, height: int, width: int):
        self.shape = (height, width)

    def __call__(self, crop: np.ndarray, dy: int, dx: int) -> np.ndarray:
        canvas = np.zeros(self.shape, dtype=np.float32)
        top, left = _MARGIN + dy, _MARGIN + dx
        canvas[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
        return canvas


def _global_shift(target: np.ndarray, crop: np.ndarray, place: _Placer) -> tuple[int, int]:
    """The whole-pixel offset (±1) at which the binarized crop best covers `target`."""
    ink = target >= 0.5
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return min(shifts, key=lambda s: int(np.count_nonzero((place(crop, *s) >= 0.5) ^ ink)))


def _lone(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dark pixels of either image with nothing but white within one pixel in the other."""
    near_a = ndimage.maximum_filter(a, size=3) < BLANK
    near_b = ndimage.maximum_filter(b, size=3) < BLANK
    return a * ((a >= DARK) & near_b) + b * ((b >= DARK) & near_a)


def _worst_patch(maps: list[np.ndarray]) -> float:
    """Max over patches of the min over `maps` of the patch's sum."""
    best = None
    for values in maps:
        sums = ndimage.uniform_filter(values, size=PATCH, mode="constant") * PATCH * PATCH
        best = sums if best is None else np.minimum(best, sums)
    assert best is not None
    return float(best.max())
