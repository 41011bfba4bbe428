"""Where the model looked for each token it wrote, drawn as in the paper's figures.

For every generated token the fine attention map (one weight per cell of the CNN's feature
grid) is stretched over the input image and drawn in red, scaled so that the token's strongest
cell is fully red. For coarse-to-fine models the *selected* coarse cells are outlined in blue:
for sparse models (sparsemax, hard attention) the cells the fine attention was computed in,
i.e. those whose fine cells carry weight; for hierarchical softmax, where every cell has some
weight, the cells holding at least half of the strongest coarse weight. A coarse cell covers
`coarse_factor × coarse_factor` fine cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HEAT = np.array([230, 20, 20], dtype=np.float32)
HEAT_OPACITY = 0.75
COARSE_COLOUR = (30, 90, 230)
LABEL_HEIGHT = 18
TILE_GAP = 4

Box = tuple[int, int, int, int]


def heat_maps(attention: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`T × h × w` attention → `T × H × W` maps over an image of `size = (W, H)`, each in
    [0, 1] with its maximum at 1 (an all-zero map stays zero).

    Cell (i, j) of an `h × w` grid covers rows `[i·H/h, (i+1)·H/h)` and the matching columns.
    """
    weights = np.asarray(attention, dtype=np.float32)
    if weights.ndim != 3:
        raise ValueError(f"expected T×h×w attention, got shape {weights.shape}")
    width, height = size
    rows = np.arange(height) * weights.shape[1] // height
    cols = np.arange(width) * weights.shape[2] // width
    peak = weights.reshape(len(weights), -1).max(axis=1, initial=0.0)
    scaled = weights / np.where(peak > 0, peak, 1.0)[:, None, None]
    return np.clip(scaled[:, rows][:, :, cols], 0.0, 1.0)


def selected_coarse_cells(
    coarse: np.ndarray, fine: np.ndarray, coarse_factor: int = 4
) -> list[list[tuple[int, int]]]:
    """Per token, the coarse cells (row, column) that count as chosen (see the module doc).

    `coarse` is `T × hc × wc`, `fine` the `T × h × w` fine attention. A model is sparse when
    some fine or coarse weight is exactly zero; its chosen cells are then those whose fine cells
    carry weight (the cells fine attention was computed in, for sparsemax and hard attention).
    """
    coarse = np.asarray(coarse, dtype=np.float32)
    fine = np.asarray(fine, dtype=np.float32)
    steps, rows, cols = coarse.shape
    block = np.zeros((steps, rows * coarse_factor, cols * coarse_factor), dtype=np.float32)
    h, w = min(fine.shape[1], block.shape[1]), min(fine.shape[2], block.shape[2])
    block[:, :h, :w] = fine[:steps, :h, :w]
    mass = block.reshape(steps, rows, coarse_factor, cols, coarse_factor).sum(axis=(2, 4))
    sparse = bool((fine <= 0).any() or (coarse <= 0).any())
    chosen = []
    for t in range(steps):
        mask = mass[t] > 0 if sparse else coarse[t] >= 0.5 * coarse[t].max()
        chosen.append([(int(r), int(c)) for r, c in zip(*np.nonzero(mask), strict=True)])
    return chosen


def coarse_boxes(
    cells: Sequence[tuple[int, int]],
    fine_shape: tuple[int, int],
    size: tuple[int, int],
    coarse_factor: int = 4,
) -> list[Box]:
    """Pixel boxes (left, top, right, bottom) of coarse cells on an image of `size = (W, H)`."""
    width, height = size
    fine_h, fine_w = fine_shape
    boxes = []
    for row, col in cells:
        top = row * coarse_factor * height // fine_h
        bottom = min(height, (row + 1) * coarse_factor * height // fine_h)
        left = col * coarse_factor * width // fine_w
        right = min(width, (col + 1) * coarse_factor * width // fine_w)
        boxes.append((left, top, right - 1, bottom - 1))
    return boxes


def overlay(image: Image.Image, heat: np.ndarray, boxes: Sequence[Box] = ()) -> Image.Image:
    """The image in grey with one heat map in red and coarse cells outlined in blue."""
    grey = np.asarray(image.convert("RGB"), dtype=np.float32)
    alpha = (HEAT_OPACITY * heat)[..., None]
    tile = Image.fromarray((grey * (1 - alpha) + HEAT * alpha).astype(np.uint8))
    draw = ImageDraw.Draw(tile)
    for box in boxes:
        draw.rectangle(box, outline=COARSE_COLOUR, width=1)
    return tile


def attention_strip(
    image: Image.Image,
    tokens: Sequence[str],
    attention: np.ndarray,
    coarse: np.ndarray | None = None,
    coarse_factor: int = 4,
) -> Image.Image:
    """One tile per token, top to bottom: the token, then the image under its attention."""
    maps = heat_maps(np.asarray(attention)[: len(tokens)], image.size)
    boxes = _boxes_per_token(coarse, tokens, np.asarray(attention), image, coarse_factor)
    width, height = image.size
    tile_height = LABEL_HEIGHT + height + TILE_GAP
    strip = Image.new("RGB", (width, max(1, tile_height * len(tokens))), "white")
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default()
    for t, token in enumerate(tokens):
        top = t * tile_height
        draw.text((2, top + 2), f"{t + 1}: {token}", fill="black", font=font)
        strip.paste(overlay(image, maps[t], boxes[t]), (0, top + LABEL_HEIGHT))
    return strip


def _boxes_per_token(
    coarse: np.ndarray | None,
    tokens: Sequence[str],
    attention: np.ndarray,
    image: Image.Image,
    coarse_factor: int,
) -> list[list[Box]]:
    if coarse is None:
        return [[] for _ in tokens]
    cells = selected_coarse_cells(np.asarray(coarse)[: len(tokens)], attention, coarse_factor)
    shape = (int(attention.shape[1]), int(attention.shape[2]))
    return [coarse_boxes(c, shape, image.size, coarse_factor) for c in cells]
