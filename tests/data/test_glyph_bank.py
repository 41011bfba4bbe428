"""The bank of real handwritten glyphs: normalisation, and no glyph of a held-out writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glyph_fixtures import small_shared
from im2markup.data.corpus.cleaning import Exclusions
from im2markup.data.corpus.crohme_inks import (
    held_out_writers,
    ink_test_formulas,
    labelled_inks,
    writer_split,
)
from im2markup.data.handwriting.crohme_reader import TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.glyph_bank import GlyphBank, expression_glyphs
from im2markup.data.handwriting.inkml import InkExpression, Symbol, load_crohme2014_train_ink


def _ink(strokes: list[list[tuple[float, float]]], symbols: list[Symbol]) -> InkExpression:
    traces = [np.asarray(s, dtype=np.float64) for s in strokes]
    return InkExpression("e1", "c", "c:w1", "", traces, symbols)


def test_glyphs_are_normalised_to_their_box_in_symbol_heights() -> None:
    """Heights 20 (`1`) and 20 (`x`, two strokes): one symbol height is 20 units."""
    ink = _ink(
        [[(10, 10), (10, 30)], [(20, 10), (30, 30)], [(30, 10), (20, 30)], [(40, 20), (60, 21)]],
        [Symbol("1", (0,)), Symbol("x", (1, 2)), Symbol("-", (3,))],
    )
    one, ex, bar = expression_glyphs(ink)
    assert (one.label, one.writer, one.width, one.height) == ("1", "c:w1", 0.0, 1.0)
    assert (ex.width, ex.height, ex.ends) == (0.5, 1.0, (2, 4))
    strokes = ex.traces()
    assert len(strokes) == 2 and np.allclose(strokes[1], [[0.5, 0.0], [0.0, 1.0]])
    assert (bar.width, bar.height) == pytest.approx((1.0, 0.05))


def test_oversized_glyphs_are_left_out_unless_they_span_what_they_cover() -> None:
    ink = _ink(
        [[(0, 0), (0, 10)], [(0, 0), (300, 5)], [(0, 20), (300, 20)], [(0, 0), (290, 5)]],
        [Symbol("1", (0,)), Symbol("a", (1,)), Symbol("-", (2,)), Symbol(r"\sqrt", (3,))],
    )
    assert [g.label for g in expression_glyphs(ink)] == ["1", "-", r"\sqrt"]


def test_bank_finds_glyphs_by_class_and_writer() -> None:
    first = _ink([[(0, 0), (0, 10)]], [Symbol("1", (0,))])
    second = InkExpression("e2", "c", "c:w2", "", [np.array([[0.0, 0], [5, 10]])], [])
    second.symbols.append(Symbol("x", (0,)))
    bank = GlyphBank.from_inks([first, second])
    assert bank.writers == ["c:w1", "c:w2"] and len(bank) == 2
    assert [g.writer for g in bank.samples("1")] == ["c:w1"]
    assert bank.samples("1", "c:w2") == [] and bank.samples("y") == []
    assert bank.coverage("c:w1", {"1", "x"}) == 1
    assert bank.summary() == {"glyphs": 2, "writers": 2, "classes": {"1": 1, "x": 1}}


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    return small_shared(tmp_path_factory.mktemp("glyph-bank"), shared_dir)


@pytest.mark.shared_data
def test_bank_holds_only_the_writers_the_ink_dataset_trains_on(small_root: Path) -> None:
    split = writer_split(small_root, 0.08, seed=0)
    inks = load_crohme2014_train_ink(small_root)
    captions = dict(read_captions(small_root / TRAIN_CAPTIONS))
    items, _ = labelled_inks(inks, captions, Exclusions(ink_test_formulas(small_root)))
    assert split.held == held_out_writers(items, 0.08, 0)
    assert split.held and all(item.ink.writer in split.held for item in split.val)
    bank = GlyphBank.from_inks(item.ink for item in split.train)
    writers = {g.writer for glyphs in bank.by_label.values() for g in glyphs}
    assert writers == set(bank.writers) == {item.ink.writer for item in split.train}
    assert not writers & split.held
    assert len(bank) > 5000 and len(bank.by_label) > 80


@pytest.mark.slow
@pytest.mark.shared_data
def test_full_bank_has_no_held_out_writer(shared_dir: Path) -> None:
    split = writer_split(shared_dir)
    bank = GlyphBank.from_inks(item.ink for item in split.train)
    assert len(split.held) > 10 and not set(bank.writers) & split.held
    assert len(bank.by_label) == 101
