"""Symbol boxes from TeX: the DVI and TFM readers, the CROHME class mapping, failure isolation,
and agreement of the boxes with the ink of a pdflatex render of the same formula."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from im2markup.data.formula_images import render_formulas
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.dvi import DviError, Mark, Tfm, font_metrics, parse_tfm, read_dvi
from im2markup.data.handwriting.glyph_layout import (
    coverage_problem,
    expected_classes,
    glyph_boxes,
    layout_formulas,
    typeset_form,
)

HAVE_TEX_TOOLS = shutil.which("kpsewhich") is not None and shutil.which("tftopl") is not None
needs_tex_tools = pytest.mark.skipif(not HAVE_TEX_TOOLS, reason="kpsewhich or tftopl missing")
DPI = 200


def _tftopl(name: str) -> dict[int, tuple[float, float, float]]:
    """Character dimensions as TeX's own `tftopl` prints them."""
    path = subprocess.run(["kpsewhich", f"{name}.tfm"], capture_output=True, text=True).stdout
    text = subprocess.run(["tftopl", path.strip()], capture_output=True, text=True).stdout
    metrics: dict[int, tuple[float, float, float]] = {}
    for block in text.split("(CHARACTER ")[1:]:
        kind, code = block.split()[:2]
        char = ord(code) if kind == "C" else int(code, 8)
        values = dict(re.findall(r"\(CHAR(WD|HT|DP) R (-?[\d.]+)\)", block))
        metrics[char] = tuple(float(values.get(k, 0.0)) for k in ("WD", "HT", "DP"))
    return metrics


@needs_tex_tools
@pytest.mark.parametrize("font", ["cmr12", "cmmi12", "cmsy10", "cmex10", "cmmi8"])
def test_tfm_metrics_equal_tftopl(font: str) -> None:
    expected = _tftopl(font)
    metrics = font_metrics(font).metrics
    assert metrics.keys() == expected.keys()
    for char, dims in expected.items():
        assert metrics[char] == pytest.approx(dims, abs=2e-6)


def test_tfm_and_dvi_readers_refuse_garbage() -> None:
    with pytest.raises(DviError):
        parse_tfm(b"\x00" * 10)
    with pytest.raises(DviError):
        read_dvi(b"not a dvi file")
    with pytest.raises(DviError, match="font name"):
        font_metrics("../../etc/passwd")


def _dvi(*pages: bytes) -> bytes:
    """A DVI file in TeX's units (1 unit = 1 sp) with one 10 pt font and the given pages."""
    pre = bytes([247, 2]) + (25400000).to_bytes(4, "big") + (473628672).to_bytes(4, "big")
    pre += (1000).to_bytes(4, "big") + bytes([0])
    body = b"".join(bytes([139]) + bytes(44) + page + bytes([140]) for page in pages)
    return pre + body + bytes([248])


PT = 65536
FONT_DEF = bytes([243, 0]) + bytes(4) + (10 * PT).to_bytes(4, "big") * 2 + bytes([0, 4]) + b"test"


def test_dvi_reader_places_glyphs_and_rules_and_ignores_a_cut_page() -> None:
    """Hand-made DVI: down 20 pt, right 1 pt, set 'a'; push, down 2 pt, put a rule 3 pt wide and
    0.5 pt high, pop; set 'b'; a special. The second copy of the page is cut short."""
    fake = Tfm({97: (0.5, 0.4, 0.1), 98: (0.6, 0.7, 0.0)})
    page = bytes([159]) + (20 * PT).to_bytes(3, "big") + bytes([145]) + PT.to_bytes(3, "big")
    page += FONT_DEF + bytes([171, 97, 141, 159]) + (2 * PT).to_bytes(3, "big")
    page += bytes([137]) + (PT // 2).to_bytes(4, "big") + (3 * PT).to_bytes(4, "big")
    page += bytes([142, 98, 239, 5]) + b"hello"
    data = _dvi(page, page)
    pages = read_dvi(data[: len(data) - len(page) // 2], metrics=lambda name: fake)
    assert len(pages) == 1
    a, rule, b = pages[0].marks
    assert pages[0].specials == ["hello"]
    assert (a.font, a.char, rule.is_rule, b.char) == ("test", 97, True, 98)
    assert (a.x0, a.y0, a.x1, a.y1) == pytest.approx((1, 16, 6, 21))
    assert (rule.x0, rule.y0, rule.x1, rule.y1) == pytest.approx((6, 21.5, 9, 22))
    assert (b.x0, b.y0, b.x1, b.y1) == pytest.approx((6, 13, 12, 20))
    assert len(read_dvi(data, metrics=lambda name: fake)) == 2


@pytest.mark.parametrize(
    ("formula", "typeset"),
    [
        (r"( \frac { a } { b } ) ^ { 2 }", r"\left( \dfrac { a } { b } \right) ^ { 2 }"),
        (r"[ 0 , 1 ) \cup \{ x \}", r"\left[ 0 , 1 \right) \cup \left\{ x \right\}"),
        (r"\sqrt [ 3 ] { ( x ) }", r"\sqrt [ 3 ] { \left( x \right) }"),
        (r"( a { ) } b", r"( a { ) } b"),
        (r"\sum _ { i } x ^ { \sum y }", r"\mathop { \textstyle \sum } _ { i } x ^ { \sum y }"),
        (r"f ( x ( y ) ", r"f ( x \left( y \right)"),
        (
            r"| \frac { a } { b } | + \{ x | x > 0 \}",
            r"\left| \dfrac { a } { b } \right| + \left\{ x | x > 0 \right\}",
        ),
        (
            r"\frac { \frac { 1 } { 2 } } { e ^ { \frac { x } { 2 } } } \sqrt [ \frac 1 2 ] y",
            r"\dfrac { \dfrac { 1 } { 2 } } { e ^ { \frac { x } { 2 } } } \sqrt [ \frac 1 2 ] y",
        ),
    ],
)
def test_typeset_form_pairs_brackets_and_enlarges_fractions_outside_scripts(
    formula: str, typeset: str
) -> None:
    assert typeset_form(formula) == typeset


def test_expected_classes_are_the_drawn_crohme_symbols() -> None:
    label = (
        r"\operatorname* { l i m } _ { x \rightarrow 0 } \frac { \operatorname { s i n } x } { x }"
        r" < \sqrt [ 3 ] { y ' } \neq \{ a \}"
    )
    assert expected_classes(label) == Counter(
        {
            r"\lim": 1, "x": 3, r"\rightarrow": 1, "0": 1, "-": 1, r"\sin": 1, r"\lt": 1,
            r"\sqrt": 1, "3": 1, "y": 1, r"\prime": 1, r"\neq": 1, r"\{": 1, "a": 1, r"\}": 1,
        }
    )  # fmt: skip


def _labels(boxes) -> Counter[str]:
    return Counter(box.label for box in boxes)


KNOWN = [
    (r"\frac { a } { b }", {"-": 1, "a": 1, "b": 1}),
    (r"\sqrt [ 3 ] { x }", {r"\sqrt": 1, "3": 1, "x": 1}),
    (r"a \neq b", {"a": 1, r"\neq": 1, "b": 1}),
    (r"\operatorname { s i n } x + \operatorname { c o s } y", {r"\sin": 1, r"\cos": 1, "x": 1,
                                                               "+": 1, "y": 1}),
    (r"\operatorname { t a n } \operatorname { l o g } n", {r"\tan": 1, r"\log": 1, "n": 1}),
    (r"\operatorname* { l i m } _ { x \rightarrow \infty } s",
     {r"\lim": 1, "x": 1, r"\rightarrow": 1, r"\infty": 1, "s": 1}),
    (r"x _ { 1 } , \ldots , x _ { n }", {"x": 2, "1": 1, ",": 2, r"\ldots": 1, "n": 1}),
    (r"a \cdots b \cdot c", {"a": 1, r"\cdots": 1, "b": 1, r"\cdot": 1, "c": 1}),
    (r"\{ x | x \geq 0 \}", {r"\{": 1, "x": 2, "|": 1, r"\geq": 1, "0": 1, r"\}": 1}),
    (r"\sum _ { i = 1 } ^ { n } \int _ { 0 } ^ { 1 }",
     {r"\sum": 1, "i": 1, "=": 1, "1": 2, "n": 1, r"\int": 1, "0": 1}),
    (r"\alpha \beta \gamma \theta \lambda \mu \pi \sigma \phi \Delta",
     {g: 1 for g in (r"\alpha", r"\beta", r"\gamma", r"\theta", r"\lambda", r"\mu", r"\pi",
                     r"\sigma", r"\phi", r"\Delta")}),
    (r"f ^ { \prime } ( x ) = g '", {"f": 1, r"\prime": 2, "(": 1, "x": 1, ")": 1, "=": 1,
                                     "g": 1}),
    (r"x < y > z", {"x": 1, r"\lt": 1, "y": 1, r"\gt": 1, "z": 1}),
    (r"\pm \times \div \leq \in \forall \exists - 5 !",
     {r"\pm": 1, r"\times": 1, r"\div": 1, r"\leq": 1, r"\in": 1, r"\forall": 1, r"\exists": 1,
      "-": 1, "5": 1, "!": 1}),
    (r"[ 0 , 1 ) / A B C", {"[": 1, "0": 1, ",": 1, "1": 1, ")": 1, "/": 1, "A": 1, "B": 1,
                            "C": 1}),
]  # fmt: skip
TALL = (
    r"\frac { \frac { a } { b } } "
    r"{ \frac { c } { \frac { d } { \frac { e } { \frac { f } { g } } } } }"
)


@pytest.mark.latex
def test_class_mapping_covers_known_formulas() -> None:
    formulas = [formula for formula, _ in KNOWN]
    for (formula, want), layout in zip(KNOWN, layout_formulas(formulas), strict=True):
        assert layout.ok, (formula, layout.error)
        assert _labels(layout.boxes) == Counter(want), formula
        assert coverage_problem(formula, layout.boxes) is None


@pytest.mark.latex
def test_big_delimiters_radicals_and_fraction_bars_are_one_stretched_box_each() -> None:
    formulas = [f"( {TALL} )", rf"\sqrt {{ {TALL} }}", rf"\{{ {TALL} \}}", rf"| {TALL} |"]
    for formula, layout in zip(formulas, layout_formulas(formulas), strict=True):
        assert layout.ok and coverage_problem(formula, layout.boxes) is None, formula
        content = [b for b in layout.boxes if b.label in "abcdefg"]
        top, bottom = min(b.y0 for b in content), max(b.y1 for b in content)
        big = [b for b in layout.boxes if b.label not in "abcdefg-"]
        assert big and all(b.stretch for b in big)
        for box in big:  # as tall as the stacked fractions it encloses
            assert box.y0 <= top + 2 and box.y1 >= bottom - 2, (formula, box)
        bars = [b for b in layout.boxes if b.label == "-"]
        assert len(bars) == 6 and all(b.stretch and b.y1 - b.y0 < 1 for b in bars)


@pytest.mark.latex
def test_a_failing_formula_costs_only_itself() -> None:
    formulas = [
        "x + 1",
        r"x ^ { 2 } ^ { 3 }",
        r"\delta x",
        r"\frac { 1 } { 2 ",
        r"\input { /etc/passwd }",
        r"y \neq \not \in",
        "y",
    ]
    layouts = layout_formulas(formulas, batch_size=8)
    assert [layout.ok for layout in layouts] == [True, False, False, False, False, False, True]
    assert "Double superscript" in (layouts[1].error or "")
    assert layouts[2].error == "no CROHME symbol for character 14 of font cmmi12"
    assert "unbalanced braces" in (layouts[3].error or "")
    assert "not a math command" in (layouts[4].error or "")
    assert _labels(layouts[6].boxes) == Counter({"y": 1})


def test_unmapped_glyph_raises_and_rules_are_bars() -> None:
    bar = Mark("", 0, 0.0, 5.0, 10.0, 5.4)
    boxes = glyph_boxes([Mark("cmr12", 49, 3.0, 0.0, 8.0, 4.0), bar])
    assert [(b.label, b.stretch) for b in boxes] == [("1", False), ("-", True)]
    assert (boxes[0].x0, boxes[0].y0) == (3.0, 0.0)
    with pytest.raises(ValueError, match="cmbx12"):
        glyph_boxes([Mark("cmbx12", 65, 0.0, 0.0, 1.0, 1.0)])


CENTRED = frozenset({"+", "x", "-", "1", r"\times"})
"""Glyphs with ink at the centre of their box."""


def _ink_agreement(formula: str, boxes) -> tuple[float, list[str], list[str]]:
    """Against a pdflatex render at 200 dpi, registered at the small offset where most `CENTRED`
    boxes have ink at their centre, then most ink is inside the boxes: the share of the ink
    inside the boxes (dilated 2 px for side bearings and anti-aliasing), the boxes with no ink,
    and the `CENTRED` boxes with no ink within 2 px of their centre."""
    [result] = render_formulas([typeset_form(formula)], "paper", processed=False, dpi=DPI)
    assert result.image is not None
    ink = np.asarray(result.image) < 128
    scale = DPI / 72.27
    best: tuple[int, float, list[str], list[str]] | None = None
    for dy in range(-6, 7):
        for dx in range(-6, 7):
            inside = np.zeros_like(ink)
            empty, off_centre = [], []
            for box in boxes:
                x0, y0 = max(int(box.x0 * scale) + dx - 2, 0), max(int(box.y0 * scale) + dy - 2, 0)
                x1 = max(int(np.ceil(box.x1 * scale)) + dx + 2, 0)
                y1 = max(int(np.ceil(box.y1 * scale)) + dy + 2, 0)
                inside[y0:y1, x0:x1] = True
                if not ink[y0:y1, x0:x1].any():
                    empty.append(box.label)
                cx = round((box.x0 + box.x1) / 2 * scale) + dx
                cy = round((box.y0 + box.y1) / 2 * scale) + dy
                centre = ink[max(cy - 2, 0) : cy + 3, max(cx - 2, 0) : cx + 3]
                if box.label in CENTRED and not centre.any():
                    off_centre.append(box.label)
            share = float((ink & inside).sum() / ink.sum())
            if best is None or (-len(off_centre), share) > (-best[0], best[1]):
                best = (len(off_centre), share, empty, off_centre)
    assert best is not None
    return best[1], best[2], best[3]


@pytest.mark.latex
@pytest.mark.parametrize(
    "formula",
    [
        r"\frac { a + 1 } { \sqrt { x ^ { 2 } + y } } \times 7",
        r"\sum _ { i = 1 } ^ { n } i ^ { 2 } \leq \int _ { 0 } ^ { 1 } f ( x ) d x",
        r"\operatorname { s i n } \theta \neq \operatorname* { l i m } _ { x \rightarrow 0 } "
        r"( \frac { a } { b } ) \ldots",
    ],
)
def test_boxes_fall_on_the_ink_of_a_pdflatex_render(formula: str) -> None:
    [layout] = layout_formulas([formula])
    assert layout.ok
    share, empty, off_centre = _ink_agreement(formula, layout.boxes)
    assert share > 0.97
    assert empty == [] and off_centre == []


@pytest.mark.latex
@pytest.mark.shared_data
def test_every_crohme_2014_test_caption_lays_out_with_every_symbol(shared_dir: Path) -> None:
    """Coverage of the class mapping only: the test captions are never written anywhere."""
    labels = [" ".join(to_normalized(t)) for _, t in read_captions(shared_dir / TEST_CAPTIONS)]
    layouts = layout_formulas(labels)
    covered = sum(
        layout.ok and coverage_problem(label, layout.boxes) is None
        for label, layout in zip(labels, layouts, strict=True)
    )
    assert covered == len(labels) == 986


@pytest.mark.slow
@pytest.mark.latex
@pytest.mark.shared_data
def test_every_crohme_training_caption_lays_out_with_every_symbol(shared_dir: Path) -> None:
    labels = [" ".join(to_normalized(t)) for _, t in read_captions(shared_dir / TRAIN_CAPTIONS)]
    layouts = layout_formulas(labels)
    covered = sum(
        layout.ok and coverage_problem(label, layout.boxes) is None
        for label, layout in zip(labels, layouts, strict=True)
    )
    assert covered == len(labels) == 8835
