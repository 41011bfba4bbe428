"""How far a misjudged space is off, in mu: validation formulas the bundled model read right
but for a space, with the widths worked out by hand from TeX's definitions (thin 3 mu, thick
5 mu, cmr12's interword space 0.326 em = 5.9 mu, quad 18 mu, 1 in = 108.4 mu)."""

from __future__ import annotations

import pytest

from im2markup.evaluation.spacing_errors import (
    NOT_COMPARABLE,
    spacing_errors,
    spacing_gaps,
    width_bin,
    width_error,
)

TIE = r"3 | x | ^ { 4 } ~ \sim ~ 6 x ^ { 2 } \left( x \cdot y \right) ~ \sim ~ 4"
INTEGRAL = (
    r"2 V ^ { - 1 } < H > = \frac { 1 } { 2 } ~ \int ~ \frac { d ^ { 2 } p } { ( 2 \pi ) ^ { 2 } }"
)
HSPACE = r"\Lambda _ { 1 } = 0 \hspace { 0 . 3 i n } \Lambda _ { 2 } = 1"


def test_gaps_are_widths_between_glyphs() -> None:
    glyphs, gaps = spacing_gaps(HSPACE.split())
    assert glyphs == [r"\Lambda", "_", "1", "=", "0", r"\Lambda", "_", "2", "=", "1"]
    assert gaps[5] == pytest.approx(0.3 * 72.27 * 1.5)
    assert sum(gaps) == gaps[5]
    assert spacing_gaps(["a", r"\hfill", "b"]) is None
    assert spacing_gaps(["a", r"\hspace", "{", "2", "c", "u", "b", "i", "t", "}", "b"]) is None


@pytest.mark.parametrize(
    ("gold", "pred", "error", "label"),
    [
        (TIE, TIE.replace("~", "\\"), 0.0, "under 1 mu (under a pixel at the paper's scale)"),
        (INTEGRAL, INTEGRAL.replace("~", r"\,"), 2.9, "1–3 mu"),
        (HSPACE, HSPACE.replace(r"\hspace { 0 . 3 i n }", r"\qquad"), 3.48, "3–6 mu"),
        (TIE, TIE.replace(r"\left(", "(").replace(r"\right)", ")"), 0.0, None),
        (TIE, TIE.replace(r"\left(", r"\left( \,", 1).replace("~", r"\quad", 1), 12.1, None),
    ],
)
def test_a_misjudged_space_is_measured_across_look_alike_spellings(
    gold: str, pred: str, error: float, label: str | None
) -> None:
    assert width_error(gold.split(), pred.split()) == pytest.approx(error, abs=0.01)
    if label is not None:
        assert width_bin(width_error(gold.split(), pred.split())) == label


def test_other_glyphs_make_an_item_not_comparable() -> None:
    pred = TIE.replace(r"\sim", r"\approx", 1)
    assert width_error(TIE.split(), pred.split()) is None
    right, left, to = (
        ["a", r"\,", arrow, "b"] for arrow in (r"\rightarrow", r"\leftarrow", r"\to")
    )
    assert width_error(right, left) is None
    assert width_error(right, [t for t in to if t != r"\,"]) == 3.0
    assert width_bin(None) == NOT_COMPARABLE


def test_only_items_matching_but_for_whitespace_are_binned() -> None:
    items = [
        {
            "gold": TIE,
            "pred": TIE.replace("~", "\\"),
            "image_match": False,
            "image_match_nows": True,
        },
        {"gold": HSPACE, "pred": HSPACE, "image_match": True, "image_match_nows": True},
        {"gold": TIE, "pred": "x", "image_match": False, "image_match_nows": False},
        {"gold": TIE, "pred": None, "image_match": None, "image_match_nows": None},
    ]
    errors = spacing_errors(items)
    assert errors.scored == 3 and errors.total == 1
    assert errors.as_dict()["by_width"] == {"under 1 mu (under a pixel at the paper's scale)": 1}
