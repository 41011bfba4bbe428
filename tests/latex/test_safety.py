"""The safety check: file, shell, catcode and definition primitives are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from im2markup.latex.safety import MAX_FORMULA_CHARS, check_formula

REFUSED = [
    "input", "include", "openin", "openout", "write", "read", "immediate", "catcode", "def",
    "edef", "gdef", "xdef", "let", "futurelet", "csname", "endcsname", "newcommand",
    "renewcommand", "providecommand", "DeclareMathOperator", "usepackage", "documentclass",
    "special", "directlua", "jobname", "endinput", "newenvironment", "makeatletter",
    "expandafter", "afterassignment", "uppercase", "lowercase", "scantokens", "pdfprimitive",
    "includegraphics", "everyjob", "global", "fontdimen", "mathchardef", "chardef", "textfont",
    "font", "ExplSyntaxOn", "UseName", "NewCommandCopy", "pdfmapline",
]  # fmt: skip


@pytest.mark.parametrize("name", REFUSED)
def test_each_primitive_is_refused_with_its_name(name: str) -> None:
    reason = check_formula(rf"x + \{name}{{y}} - z")
    assert reason is not None
    assert f"\\{name} " in reason


@pytest.mark.parametrize(
    ("formula", "named"),
    [
        (r"\immediate\write18{rm -rf /}", r"\immediate"),
        (r"x^2 \write18{id}", r"\write"),
        (r"x % \input{/etc/passwd}", r"\input"),
        (r"\input@path", r"\input"),
        (r"\begin{document}x", "document"),
        (r"x \end {document}", "document"),
        (r"\begin{filecontents}{a.tex}x\end{filecontents}", "filecontents"),
        (r"\begin{input}{/etc/passwd}\end{input}", r"\input"),
        (r"\end{input}", r"\endinput"),
        ("^^5cinput{x}", "^^"),
        ("x^^M", "^^"),
        ("x\x00y", "NUL"),
        (r"\global\mathchardef\alpha=\"0142", r"\global"),
        (r"\fontdimen22\textfont2=9pt x", r"\fontdimen"),
    ],
)
def test_disguised_forms_are_refused(formula: str, named: str) -> None:
    reason = check_formula(formula)
    assert reason is not None
    assert named in reason


def test_length_limit() -> None:
    assert check_formula("x" * MAX_FORMULA_CHARS) is None
    reason = check_formula("x" * (MAX_FORMULA_CHARS + 1))
    assert reason is not None and str(MAX_FORMULA_CHARS) in reason
    assert check_formula("x + y", max_chars=3) is not None


@pytest.mark.parametrize(
    "formula",
    [
        r"\frac{a}{b} + \sqrt[3]{x}_{i}^{2}",
        r"\definecolor \deformation \letter \inputs \writeup \Input \catcodes",
        r"\renewcommand{\arraystretch}{1.2} \begin{array}{c} a \end{array}",
        r"\renewcommand { \arraystretch } { 1 . 3 } \begin{array} { c } { a } \\ \end{array}",
        r"\begin{pmatrix} 1 \end{pmatrix} \text{if } x \% y",
        r"x^{^2}",
    ],
)
def test_ordinary_formulas_pass(formula: str) -> None:
    assert check_formula(formula) is None


def test_arraystretch_exception_is_narrow() -> None:
    assert check_formula(r"\renewcommand{\arraystretch}{\input{x}}") is not None
    assert check_formula(r"\renewcommand{\frac}{1.2}") is not None


@pytest.mark.shared_data
def test_shared_formulas_pass(im2latex_dir: Path, shared_dir: Path) -> None:
    """All test and validation formulas pass but two: `\\uppercase\\expandafter` (test line
    5365) and `\\special{psfile=…}` (test line 6005)."""
    refused = {}
    for split in ("test", "val"):
        path = im2latex_dir / "formulas" / f"{split}.formulas.norm.txt"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if reason := check_formula(line):
                refused[(split, number)] = reason
    assert sorted(refused) == [("test", 5365), ("test", 6005)]
    assert "\\uppercase" in refused[("test", 5365)]
    assert "\\special" in refused[("test", 6005)]
    wikipedia = (shared_dir / "corpora" / "wikipedia_math.txt").read_text(encoding="utf-8")
    assert not [line for line in wikipedia.splitlines() if check_formula(line)]
