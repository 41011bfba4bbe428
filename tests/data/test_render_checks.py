"""Pre-TeX checks and the spacing helper of the renderer (no TeX needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from im2markup.data.formula_images import render_formulas
from im2markup.data.render import RenderError
from im2markup.data.render import compile as compile_module
from im2markup.data.render.checks import precheck
from im2markup.data.render.spacing import strip_spacing
from im2markup.data.render.templates import batch_document, get_style, register_style


@pytest.mark.parametrize(
    ("formula", "reason_part"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x^{2", "never closed"),
        ("x}^{2", "closes no"),
        (r"\begin{array}{c} x", "never closed"),
        (r"x \end{array}", "without a matching"),
        (r"\begin{array}{c} x \end{matrix}", "closes \\begin{array}"),
        (r"x \end{preview} y", "not allowed"),
        (r"\frac { d } { d s } \right| _ { s = 0 }", "\\right without a matching \\left"),
        (r"\left( \frac { a } { b } \right) \left[ c", "1 \\left never closed"),
        (r"\frac { \left( a } { b \right) }", "closed by a brace before its \\right"),
        (r"\input{/etc/passwd}", "input"),
        ("a\x01b", "U+0001"),
        ("x" * 5000, "5000 characters"),
    ],
)
def test_precheck_refuses_with_a_reason(formula: str, reason_part: str) -> None:
    reason = precheck(formula)
    assert reason is not None and reason_part in reason


@pytest.mark.parametrize(
    "formula",
    [
        r"\frac { a } { b }",
        r"\{ x \} \left\{ y \right.",
        r"a \leftarrow b \rightarrow c \leftrightarrow d",
        r"\left. \frac { d f } { d x } \right| _ { x = 0 }",
        r"a \\ { b }",
        r"\begin{array}{cc} a & b \\ c & d \end{array}",
        "x % a comment with a brace {\n + y",
    ],
)
def test_precheck_accepts_ordinary_formulas(formula: str) -> None:
    assert precheck(formula) is None


def test_strip_spacing_examples() -> None:
    assert strip_spacing(r"a \, b \; c ~ d") == "a b c d"
    assert strip_spacing(r"\alpha\,b") == r"\alpha b"
    assert strip_spacing(r"\operatorname { c o s h } x") == r"\cosh x"
    assert strip_spacing(r"\operatorname*{lim}_{x}") == r"\lim_{x}"
    assert strip_spacing(r"\operatorname{foo} x") == r"\operatorname{foo} x"
    assert strip_spacing(r"x \hspace { 1 c m } y \hspace*{2pt} z") == "x y z"
    assert strip_spacing(r"a \ \ b \ c") == r"a b \ c"
    assert strip_spacing(r"a \quad b \qquad c \! d \: e") == r"a \quad b \qquad c \! d \: e"
    assert strip_spacing("a % keep \\, the comment's line\n b") == "a % keep the comment's line\n b"


@pytest.mark.shared_data
def test_strip_spacing_reproduces_the_shared_nospace_formulas(im2latex_dir: Path) -> None:
    formulas = im2latex_dir / "formulas"
    norm = (formulas / "val.formulas.norm.txt").read_text(encoding="utf-8").splitlines()
    nospace = (formulas / "val.formulas.nospace.txt").read_text(encoding="utf-8").splitlines()
    assert len(norm) == len(nospace) == 8475
    same = sum(strip_spacing(a) == b for a, b in zip(norm, nospace, strict=True))
    assert same / len(norm) > 0.985
    unchanged = sum(strip_spacing(b) == b for b in nospace)
    assert unchanged / len(nospace) > 0.99


def test_batch_document_puts_each_formula_on_its_own_line() -> None:
    source = batch_document(get_style("shared"), ["a % b", "c"], nonce="0123", dpi=200)
    lines = source.splitlines()
    assert "a % b" in lines and "c" in lines
    assert source.count("\\begin{preview}") == 2
    assert source.count("IM2M0123 begin") == source.count("IM2M0123 end") == 2


def test_styles_are_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_style(get_style("paper"))
    with pytest.raises(ValueError, match=r"known: .*paper.*shared"):
        get_style("nope")


def test_missing_programs_are_a_setup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_module.shutil, "which", lambda name: None)
    with pytest.raises(RenderError, match="pdflatex and gs"):
        render_formulas(["x"])
