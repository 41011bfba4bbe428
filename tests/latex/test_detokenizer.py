"""The detokenizer: compact LaTeX that renders like the normalized form it came from."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from im2markup.latex.detokenizer import detokenize, join_tokens
from im2markup.latex.normalizer import normalize


@pytest.mark.parametrize(
    ("normalized", "compact"),
    [
        ("x _ { i } ^ { 2 }", "x_{i}^{2}"),
        (r"\frac { a } { b }", r"\frac{a}{b}"),
        (r"\operatorname { s i n } x", r"\sin x"),
        (r"\operatorname* { l i m } _ { n }", r"\lim_{n}"),
        (r"\operatorname* { l i m \, s u p } _ { n }", r"\limsup_{n}"),
        (r"\operatorname { s g n } x", r"\operatorname{sgn}x"),
        (r"\operatorname* { s i n }", r"\operatorname*{sin}"),
        (r"\alpha x + \alpha 2 + \alpha ( x )", r"\alpha x+\alpha2+\alpha(x)"),
        (
            r"\left( x \right) \left\langle y \right\rangle",
            r"\left(x\right)\left\langle y\right\rangle",
        ),
        (r"a \, b \ c", r"a\,b\ c"),
        (r"\mathrm { f o r ~ a l l }", r"\mathrm{for~all}"),
        (
            r"\left( \begin{matrix} { a } & { b } \\ { c } & { d } \\ \end{matrix} \right)",
            r"\left(\begin{matrix}a&b\\c&d\end{matrix}\right)",
        ),
        (
            r"\begin{aligned} { a } & { { } = b } \\ { } & { { } = c } \\ \end{aligned}",
            r"\begin{aligned}a&=b\\&=c\end{aligned}",
        ),
        (
            r"\begin{array} { c } \hline { a } \\ \hline \end{array}",
            r"\begin{array}{c}\hline a\\\hline\end{array}",
        ),
        # A row starting with `[` would be read as the `\\[…]` option: all cells keep braces.
        (
            r"\begin{array} { l l } { a } & { b } \\ { [ c ] } & { d } \\ \end{array}",
            r"\begin{array}{ll}{a}&{b}\\{[c]}&{d}\end{array}",
        ),
        (r"\sqrt [ 3 ] { x } \hat { x } \frac 1 2", r"\sqrt[3]{x}\hat{x}\frac12"),
    ],
)
def test_compact_form(normalized: str, compact: str) -> None:
    assert detokenize(normalized) == compact


def test_unparsable_input_is_joined_not_refused() -> None:
    assert detokenize(r"\left( x _ { i }") == r"\left(x_{i}"


def test_join_never_forms_a_caret_escape() -> None:
    assert join_tokens(["{", "^", "^", "}"]) == "{^ ^}"
    assert join_tokens(["\\beta", "x", "\\", "y"]) == "\\beta x\\ y"
    assert join_tokens(["x", "\\"]) == "x\\ "


def _shared_normalized(im2latex_dir: Path) -> list[str]:
    path = im2latex_dir / "formulas" / "test.formulas.norm.txt"
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.shared_data
def test_compact_form_normalizes_back(im2latex_dir: Path) -> None:
    """detokenize is the inverse of normalize on the paper's test formulas (fixed points)."""
    lines = [line for line in _shared_normalized(im2latex_dir) if normalize(line).text == line]
    back = sum(normalize(detokenize(line)).text == line for line in lines)
    assert back / len(lines) >= 0.999


@pytest.mark.latex
@pytest.mark.shared_data
def test_compact_form_renders_identically(im2latex_dir: Path) -> None:
    from im2markup.data.formula_images import render_formulas

    sample = random.Random(0).sample(_shared_normalized(im2latex_dir), 150)
    images = render_formulas(sample + [detokenize(s) for s in sample], style="paper")
    pairs = [(a, b) for a, b in zip(images[:150], images[150:], strict=True) if a.ok]
    assert len(pairs) > 140
    identical = sum(
        b.ok and a.image.size == b.image.size and a.image.tobytes() == b.image.tobytes()
        for a, b in pairs
    )
    assert identical >= 0.99 * len(pairs)
