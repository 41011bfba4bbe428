"""A formula's TeX layout drawn with real handwritten glyphs: one synthetic `InkExpression`.

Each CROHME symbol box of the layout (`glyph_layout`) gets a glyph of its class from the bank,
written by one writer per expression where that writer has one (people write a formula in one
hand), otherwise by any writer. The glyph is fitted to its box:

* ordinary symbols keep their proportions and fit inside the box, centred on it (TeX's boxes
  include side bearings, so a glyph may be a little wider than its box);
* flat symbols (`-` as minus, `=`, dots, `\\times` …), whose TeX boxes say little about their
  size, keep the size they had next to the writer's other symbols, no wider than the box;
* fraction bars and the `\\sqrt` sign are stretched to their box; brackets are drawn as tall
  as their box, narrowed at most to 40% of their own proportions when the box is tall;
* ellipses span their box.

Handwriting is looser than type, so the boxes' centres spread apart by a random factor per
expression, and each glyph is moved and scaled a little. The resulting expression lists the
strokes of every placed symbol, so `ink_render.augment_traces` can distort symbol by symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from im2markup.data.handwriting.glyph_bank import Glyph, GlyphBank
from im2markup.data.handwriting.glyph_layout import GlyphBox
from im2markup.data.handwriting.ink_render import FLAT_SYMBOLS
from im2markup.data.handwriting.inkml import InkExpression, Symbol

BANK_ALIASES = {r"\cdot": ".", r"\cdots": r"\ldots"}
"""Classes the CROHME inks have no glyph of, drawn with the glyph of a class that looks alike."""
DELIMITERS = frozenset({"(", ")", "[", "]", r"\{", r"\}", "|"})
ELLIPSES = frozenset({r"\ldots", r"\cdots"})
_EPSILON = 0.02
"""Smallest glyph side used in a ratio (a dot or a straight stroke has a side of about 0)."""


@dataclass(frozen=True)
class SynthesisStyle:
    """Randomness of the synthesis; lengths in units of the layout's median symbol height."""

    spread_x: tuple[float, float] = (1.05, 1.3)
    spread_y: tuple[float, float] = (1.05, 1.3)
    shift: float = 0.04
    scale: float = 0.06
    box_slack: float = 1.15
    writer_candidates: int = 8


def bank_label(label: str) -> str:
    """The bank class a layout class is drawn with."""
    return BANK_ALIASES.get(label, label)


def layout_unit(boxes: Sequence[GlyphBox]) -> float:
    """The layout's median symbol height (points), flat symbols left out as `symbol_scale` does."""
    heights = [b.y1 - b.y0 for b in boxes if b.label not in FLAT_SYMBOLS and b.y1 > b.y0]
    if not heights:
        heights = [max(b.y1 - b.y0, b.x1 - b.x0) for b in boxes]
    return float(np.median(heights)) if heights else 1.0


def choose_writer(labels: set[str], bank: GlyphBank, rng: np.random.Generator, tries: int) -> str:
    """Of `tries` writers drawn at random, the first who has glyphs of the most `labels`."""
    count = min(tries, len(bank.writers))
    if count == 0:
        raise ValueError("the glyph bank is empty")
    drawn = rng.choice(len(bank.writers), size=count, replace=False)
    return max((bank.writers[k] for k in drawn), key=lambda w: bank.coverage(w, labels))


def _glyph(label: str, writer: str, bank: GlyphBank, rng: np.random.Generator) -> Glyph:
    samples = bank.samples(label, writer) or bank.samples(label)
    if not samples:
        raise ValueError(f"no handwritten glyph of class {label!r}")
    return samples[int(rng.integers(len(samples)))]


def fit_scales(
    box: GlyphBox, width: float, height: float, unit: float, slack: float
) -> tuple[float, float]:
    """Horizontal and vertical scale that fit a `width` × `height` glyph to `box` (see module)."""
    box_w, box_h = box.x1 - box.x0, box.y1 - box.y0
    width, height = max(width, _EPSILON), max(height, _EPSILON)
    if box.label == r"\sqrt" or (box.label == "-" and box.stretch):
        sx = box_w / width
        return sx, (box_h / height if box.label == r"\sqrt" else min(unit, 0.3 * unit / height))
    if box.label in DELIMITERS:
        sy = box_h / height
        narrowing = (0.7 * box_w / box_h) / (width / height)
        return sy * float(np.clip(narrowing, 0.4, 1.0)), sy
    if box.label in ELLIPSES:
        scale = min(box_w / width, 0.5 * unit / height)
        return scale, scale
    if box.label in FLAT_SYMBOLS:
        scale = min(unit, slack * box_w / width)
        return scale, scale
    scale = min(box_h / height, slack * box_w / width)
    return scale, scale


def synthesize(
    layout_boxes: Sequence[GlyphBox],
    bank: GlyphBank,
    rng: np.random.Generator,
    *,
    label: str = "",
    style: SynthesisStyle | None = None,
) -> InkExpression:
    """The layout drawn with real glyphs: one `Symbol` per box, in the boxes' order."""
    style = style or SynthesisStyle()
    unit = layout_unit(layout_boxes)
    writer = choose_writer(
        {bank_label(b.label) for b in layout_boxes}, bank, rng, style.writer_candidates
    )
    fx, fy = rng.uniform(*style.spread_x), rng.uniform(*style.spread_y)
    traces: list[np.ndarray] = []
    symbols: list[Symbol] = []
    for box in layout_boxes:
        glyph = _glyph(bank_label(box.label), writer, bank, rng)
        if box.stretch:
            box = GlyphBox(box.label, box.x0 * fx, box.y0 * fy, box.x1 * fx, box.y1 * fy, True)
            centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        else:
            centre = np.array([(box.x0 + box.x1) / 2 * fx, (box.y0 + box.y1) / 2 * fy])
        sx, sy = fit_scales(box, glyph.width, glyph.height, unit, style.box_slack)
        factor = float(np.exp(rng.normal(0.0, style.scale)))
        scale = np.array([sx, sy]) * factor
        centre = centre + rng.normal(0.0, style.shift * unit, size=2)
        middle = np.array([glyph.width, glyph.height]) / 2
        first = len(traces)
        traces.extend((trace - middle) * scale + centre for trace in glyph.traces())
        symbols.append(Symbol(box.label, tuple(range(first, len(traces)))))
    return InkExpression(
        id="", collection="synthetic", writer=writer, truth=label, traces=traces, symbols=symbols
    )
