"""Synthesis: a TeX layout written with bank glyphs, one placed symbol per CROHME symbol."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from glyph_fixtures import small_shared
from im2markup.data.corpus.crohme_inks import writer_split
from im2markup.data.handwriting.glyph_bank import Glyph, GlyphBank
from im2markup.data.handwriting.glyph_layout import (
    GlyphBox,
    coverage_problem,
    expected_classes,
    layout_formulas,
)
from im2markup.data.handwriting.glyph_synthesis import SynthesisStyle, bank_label, synthesize
from im2markup.data.handwriting.ink_render import (
    FLAT_SYMBOLS,
    InkAugment,
    InkStyle,
    render_expression,
)
from im2markup.data.handwriting.inkml import InkExpression

STILL = SynthesisStyle(spread_x=(1.0, 1.0), spread_y=(1.0, 1.0), shift=0.0, scale=0.0)
"""No randomness in placement: each glyph exactly where its box says."""
FORMULAS = [
    r"\frac { a + 1 } { \sqrt { x ^ { 2 } + y } } \neq \operatorname { s i n } \theta",
    r"( \frac { 1 } { 2 } ) ^ { n } \leq \sum _ { i = 1 } ^ { n } x _ { i } \cdots",
    r"\operatorname* { l i m } _ { x \rightarrow \infty } f ( x ) = \{ 0 , \ldots , 9 \}",
]
CLASSES = (
    *"0123456789abfinxy+-=()[]|.,", r"\sqrt", r"\neq", r"\sin", r"\theta", r"\leq", r"\sum",
    r"\ldots", r"\lim", r"\rightarrow", r"\infty", r"\{", r"\}",
)  # fmt: skip


def _glyph(label: str, writer: str, width: float, height: float) -> Glyph:
    """A rectangle drawn in two strokes."""
    points = [(0, 0), (width, 0), (width, height), (0, height), (0, 0)]
    return Glyph(label, writer, np.asarray(points, dtype=np.float32), (3, 5))


def _shape(label: str) -> tuple[float, float]:
    if label == "-":
        return 1.0, 0.05
    if label in (".", ","):
        return 0.1, 0.15
    if label in (r"\ldots", r"\sin", r"\lim"):
        return 1.5, 0.5
    return 0.6, 1.0


def _bank(extra: list[Glyph] = ()) -> GlyphBank:
    return GlyphBank([*(_glyph(c, "w:full", *_shape(c)) for c in CLASSES), *extra])


@pytest.fixture(scope="module")
def layouts() -> list[tuple[GlyphBox, ...]]:
    results = layout_formulas(FORMULAS)
    for formula, result in zip(FORMULAS, results, strict=True):
        assert result.ok and coverage_problem(formula, result.boxes) is None
    return [r.boxes for r in results]


def _bounds(ink: InkExpression, indices: tuple[int, ...]) -> np.ndarray:
    points = np.concatenate([ink.traces[t] for t in indices])
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


@pytest.mark.latex
def test_one_placed_symbol_per_crohme_symbol_of_the_label(layouts: list) -> None:
    bank = _bank()
    for formula, boxes in zip(FORMULAS, layouts, strict=True):
        ink = synthesize(boxes, bank, np.random.default_rng(0), label=formula)
        assert [s.label for s in ink.symbols] == [b.label for b in boxes]
        assert Counter(s.label for s in ink.symbols) == expected_classes(formula)
        owned = [t for s in ink.symbols for t in s.traces]
        assert owned == list(range(len(ink.traces))) == list(range(2 * len(boxes)))
        assert ink.truth == formula and ink.writer == "w:full"


@pytest.mark.latex
def test_glyphs_fit_their_boxes(layouts: list) -> None:
    bank = _bank()
    for boxes in layouts:
        ink = synthesize(boxes, bank, np.random.default_rng(1), style=STILL)
        for box, symbol in zip(boxes, ink.symbols, strict=True):
            x0, y0, x1, y1 = _bounds(ink, symbol.traces)
            centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
            assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(centre, abs=1e-6)
            width, height = _shape(bank_label(box.label))
            if box.label == r"\sqrt" or (box.label == "-" and box.stretch):
                assert x1 - x0 == pytest.approx(box.x1 - box.x0)
            if box.label == r"\sqrt" or box.label in "()[]|" or box.label in (r"\{", r"\}"):
                assert y1 - y0 == pytest.approx(box.y1 - box.y0)
            elif not box.stretch and box.label not in FLAT_SYMBOLS:
                assert (x1 - x0) / (y1 - y0) == pytest.approx(width / height)
                assert y1 - y0 <= box.y1 - box.y0 + 1e-6


def test_one_writer_where_it_has_the_class_and_any_writer_where_not() -> None:
    boxes = (GlyphBox("x", 0, 0, 6, 6), GlyphBox("+", 8, 0, 14, 6), GlyphBox("y", 16, 0, 22, 8))
    bank = GlyphBank(
        [
            _glyph("x", "w:a", 0.5, 1.0),
            _glyph("+", "w:a", 0.5, 1.0),
            _glyph("x", "w:b", 1.0, 1.0),
            _glyph("y", "w:c", 0.25, 1.0),
        ]
    )
    style = SynthesisStyle(writer_candidates=3, shift=0.0, scale=0.0)
    for seed in range(5):
        ink = synthesize(boxes, bank, np.random.default_rng(seed), style=style)
        assert ink.writer == "w:a"
        x0, y0, x1, y1 = _bounds(ink, ink.symbols[2].traces)
        assert (x1 - x0) / (y1 - y0) == pytest.approx(0.25)


def test_a_class_without_glyphs_is_an_error() -> None:
    with pytest.raises(ValueError, match="no handwritten glyph of class 'z'"):
        synthesize((GlyphBox("z", 0, 0, 5, 5),), _bank(), np.random.default_rng(0))


def test_dots_are_drawn_with_the_glyphs_that_look_alike() -> None:
    boxes = (GlyphBox(r"\cdot", 0, 0, 3, 3), GlyphBox(r"\cdots", 5, 0, 20, 3))
    ink = synthesize(boxes, _bank(), np.random.default_rng(0))
    assert [s.label for s in ink.symbols] == [r"\cdot", r"\cdots"]


@pytest.mark.latex
@pytest.mark.shared_data
def test_real_glyphs_draw_like_the_inks(tmp_path: Path, shared_dir: Path, layouts: list) -> None:
    split = writer_split(small_shared(tmp_path, shared_dir, every=8))
    bank = GlyphBank.from_inks(item.ink for item in split.train)
    for k, (formula, boxes) in enumerate(zip(FORMULAS, layouts, strict=True)):
        rng = np.random.default_rng([0, k])
        ink = synthesize(boxes, bank, rng, label=formula)
        assert Counter(s.label for s in ink.symbols) == expected_classes(formula)
        assert ink.writer in bank.writers and ink.writer not in split.held
        image = np.asarray(render_expression(ink, InkStyle(), InkAugment(), rng))
        assert image.min() == 0 and np.median(image) == 255
        assert 40 < image.shape[0] < 400 and image.shape[1] > 2 * image.shape[0]
