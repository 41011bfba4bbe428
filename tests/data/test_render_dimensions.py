import pytest

from im2markup.data.formula_images import render_formulas
from im2markup.data.render.dimensions import join_dimensions


@pytest.mark.parametrize(
    ("split", "joined"),
    [
        (r"a \hspace { 0 . 5 m m } b", r"a \hspace { 0.5mm } b"),
        (r"a \hspace * { . 1 i n } b", r"a \hspace * { .1in } b"),
        (r"\vspace { - 8 p t } +", r"\vspace { -8pt } +"),
        (r"\kern - 0 . 1 e m x", r"\kern -0.1em x"),
        (r"a \\ [ 2 p t ] b", r"a \\ [ 2pt ] b"),
        (r"\hspace { 1 . 5 t r u e c m }", r"\hspace { 1.5truecm }"),
        (r"\renewcommand { \arraystretch } { 1 . 2 }", r"\renewcommand{\arraystretch} { 1.2 }"),
        (r"\raise . 5 p t \mathrm { x }", r"\raise .5pt \mathrm { x }"),
        (r"\lower 0 . 9 p t \hbox", r"\lower 0.9pt \hbox"),
        (r"\tabcolsep 1 p t \begin{array}", r"\tabcolsep 1pt \begin{array}"),
    ],
)
def test_split_dimensions_are_joined(split: str, joined: str) -> None:
    assert join_dimensions(split) == joined


@pytest.mark.parametrize(
    "formula", [r"\frac { 1 2 } { 3 }", r"x _ { i n } + c m", r"\mathrm { p t }"]
)
def test_other_tokens_are_left_alone(formula: str) -> None:
    assert join_dimensions(formula) == formula


@pytest.mark.latex
def test_normalized_test_formula_with_a_split_unit_renders() -> None:
    # Test formula 95 of IM2LATEX-100K, as the normalized data writes it.
    [result] = render_formulas([r"\Psi = \Phi R \hspace { . 1 i n }"], style="paper")
    assert result.error is None and result.image is not None


@pytest.mark.latex
@pytest.mark.parametrize(
    "formula",
    [
        r"\ln { \frac { \Lambda ^ { 2 } } { v } } \raise 2 p t \hbox { , }",
        # Test formula 1525 of IM2LATEX-100K (abridged), as the normalized data writes it.
        r"\renewcommand { \arraystretch } { 1 . 2 } \begin{array} { r l } a & b \end{array}",
    ],
)
def test_raised_boxes_and_array_stretch_render(formula: str) -> None:
    [result] = render_formulas([formula], style="paper")
    assert result.error is None and result.image is not None
