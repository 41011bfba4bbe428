"""Pen traces → bitmaps that look like the CROHME 2014 test bitmaps, and ink-level augmentation.

The CROHME collections were written on different devices, so their coordinates differ by
three orders of magnitude (HAMEX in centimetres, KAIST in thousands of device units). Every
expression is therefore first brought to one scale by its own handwriting: the median height of
its symbols (the segmentation's symbols where there is one, the pen strokes otherwise; flat
symbols such as `-` and `.` left out) becomes `InkStyle.symbol_height` pixels. The defaults
were measured against the 986 test bitmaps (`benchmarks/ink_render_closeness.py`): binary
strokes 4 px wide, about 10 px of background around the ink.

`InkAugment` varies an expression where real handwriting varies — scale, slant, rotation,
aspect, a smooth elastic field, each stroke's and each symbol's position and size, pen width,
anti-aliasing — before it is drawn. All randomness comes from the generator passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from im2markup.data.handwriting.inkml import InkExpression

FLAT_SYMBOLS = frozenset(
    {"-", ".", ",", "\\cdot", "\\ldots", "\\cdots", "=", "\\rightarrow", "_", "\\times", "'"}
)
"""Symbols whose height says little about the writer's scale (bars, dots, arrows)."""

INPUT_GLYPH_HEIGHT = 16.6
"""`user_images.glyph_height` of processed drawings at `InkStyle`'s scale (median over the first
300 held-out-writer drawings of `hw-v2/ink`; 17.4 on the first 300 CROHME 2014 test bitmaps):
the size a user's handwriting is brought to before a handwriting model reads it."""

SUPERSAMPLE = 4
"""Anti-aliased strokes are drawn this many times larger, then reduced with a box filter."""


@dataclass(frozen=True)
class InkStyle:
    """How traces become pixels: the scale (median symbol height), pen and margin, in px."""

    symbol_height: float = 28.0
    pen_width: float = 4.0
    padding: int = 10
    antialias: bool = False
    max_side: int = 2400


@dataclass(frozen=True)
class InkAugment:
    """Ranges of the ink-level distortions (σ of normal draws unless a range is given).

    Lengths are in units of the expression's median symbol height, angles in degrees.
    """

    scale: float = 0.15
    aspect: float = 0.08
    slant: float = 0.15
    rotation: float = 3.0
    elastic: float = 0.08
    elastic_cells: int = 3
    stroke_shift: float = 0.04
    symbol_shift: float = 0.05
    symbol_scale: float = 0.08
    pen_width: tuple[float, float] = (2.5, 6.0)
    antialias_prob: float = 0.5


def symbol_scale(expression: InkExpression) -> float:
    """The median height of the expression's symbols in its own units (its writing scale)."""
    heights = [
        _height([expression.traces[t] for t in symbol.traces])
        for symbol in expression.symbols
        if symbol.label not in FLAT_SYMBOLS
    ]
    if not heights:
        heights = [_height([trace]) for trace in expression.traces]
    heights = [h for h in heights if h > 0]
    if not heights:
        x0, y0, x1, y1 = expression.bounds()
        return max(x1 - x0, y1 - y0, 1e-6)
    spread = np.asarray(heights)
    # A stroke-based estimate includes dots and bars: keep the taller half.
    if not expression.symbols:
        spread = spread[spread >= np.median(spread)]
    return float(np.median(spread))


def _height(traces: Sequence[np.ndarray]) -> float:
    points = np.concatenate(traces)
    return float(points[:, 1].max() - points[:, 1].min())


def normalized_traces(expression: InkExpression) -> list[np.ndarray]:
    """The traces in units of one median symbol height, the ink's top-left corner at 0."""
    unit = symbol_scale(expression)
    points = np.concatenate(expression.traces)
    origin = points.min(axis=0)
    return [(trace - origin) / unit for trace in expression.traces]


def augment_traces(
    traces: list[np.ndarray],
    symbols: Sequence[Sequence[int]],
    augment: InkAugment,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """A distorted copy of normalized traces; `symbols` groups trace indices into symbols."""
    out = [trace.copy() for trace in traces]
    for group in symbols:
        members = [out[t] for t in group]
        centre = np.concatenate(members).mean(axis=0)
        factor = float(np.exp(rng.normal(0.0, augment.symbol_scale)))
        shift = rng.normal(0.0, augment.symbol_shift, size=2)
        for t in group:
            out[t] = (out[t] - centre) * factor + centre + shift
    for k in range(len(out)):
        out[k] = out[k] + rng.normal(0.0, augment.stroke_shift, size=2)
    points = np.concatenate(out)
    low, high = points.min(axis=0), points.max(axis=0)
    field = rng.normal(0.0, augment.elastic, size=(augment.elastic_cells + 1,) * 2 + (2,))
    out = [trace + _bilinear(field, (trace - low) / np.maximum(high - low, 1e-6)) for trace in out]
    angle = np.deg2rad(rng.normal(0.0, augment.rotation))
    slant = float(np.clip(rng.normal(0.0, augment.slant), -0.45, 0.45))
    aspect = float(np.exp(rng.normal(0.0, augment.aspect)))
    scale = float(np.exp(rng.normal(0.0, augment.scale)))
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    stretch = np.diag([aspect * scale, scale])
    matrix = stretch @ shear @ rotate
    return [trace @ matrix.T for trace in out]


def _bilinear(field: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Displacements of a `(n+1, n+1, 2)` grid field at points in [0, 1]², bilinearly."""
    cells = field.shape[0] - 1
    grid = np.clip(where, 0.0, 1.0) * cells
    i0 = np.minimum(grid.astype(int), cells - 1)
    frac = grid - i0
    fx, fy = frac[:, :1], frac[:, 1:]
    x0, y0 = i0[:, 0], i0[:, 1]
    return (
        field[y0, x0] * (1 - fx) * (1 - fy)
        + field[y0, x0 + 1] * fx * (1 - fy)
        + field[y0 + 1, x0] * (1 - fx) * fy
        + field[y0 + 1, x0 + 1] * fx * fy
    )


def draw(traces: Sequence[np.ndarray], style: InkStyle) -> Image.Image:
    """Dark strokes on white (mode `L`): traces in symbol-height units drawn at `style`'s scale.

    Raises `ValueError` when the drawing would exceed `style.max_side` pixels.
    """
    points = np.concatenate(traces)
    low = points.min(axis=0)
    factor = SUPERSAMPLE if style.antialias else 1
    margin = style.padding + style.pen_width / 2
    scaled = [((t - low) * style.symbol_height + margin) * factor for t in traces]
    span = (points.max(axis=0) - low) * style.symbol_height + 2 * margin
    width, height = (int(np.ceil(v)) + 1 for v in span)
    if max(width, height) > style.max_side:
        raise ValueError(f"the drawing would be {width}x{height} px, over {style.max_side}")
    canvas = Image.new("L", (width * factor, height * factor), 255)
    pen = style.pen_width * factor
    painter = ImageDraw.Draw(canvas)
    radius = pen / 2
    for trace in scaled:
        coords = [tuple(p) for p in trace.tolist()]
        if len(coords) > 1:
            painter.line(coords, fill=0, width=max(1, round(pen)), joint="curve")
        for x, y in (coords[0], coords[-1]):
            painter.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    if factor > 1:
        canvas = canvas.reduce(factor)
    return canvas


def render_expression(
    expression: InkExpression,
    style: InkStyle | None = None,
    augment: InkAugment | None = None,
    rng: np.random.Generator | None = None,
) -> Image.Image:
    """One expression drawn like the test bitmaps (dark on white); distorted when `augment`.

    With `augment`, the pen width and anti-aliasing are drawn from its ranges too.
    """
    style = style or InkStyle()
    traces = normalized_traces(expression)
    if augment is not None:
        rng = rng if rng is not None else np.random.default_rng()
        groups = [symbol.traces for symbol in expression.symbols]
        traces = augment_traces(traces, groups, augment, rng)
        style = InkStyle(
            symbol_height=style.symbol_height,
            pen_width=float(rng.uniform(*augment.pen_width)),
            padding=style.padding,
            antialias=bool(rng.random() < augment.antialias_prob),
            max_side=style.max_side,
        )
    return draw(traces, style)
