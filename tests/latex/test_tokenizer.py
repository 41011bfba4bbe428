"""The tokenizer: minimal LaTeX tokens, spaces only where TeX keeps them."""

from __future__ import annotations

import re

import pytest

from im2markup.latex.tokenizer import CONTROL_SPACE, SPACE, is_control_word, scan, tokenize


@pytest.mark.parametrize(
    ("latex", "tokens"),
    [
        (r"\alpha+\beta_1", ["\\alpha", "+", "\\beta", "_", "1"]),
        (r"\frac{ab}{c}", ["\\frac", "{", "a", "b", "}", "{", "c", "}"]),
        (r"a\,b\;c\{d\}", ["a", "\\,", "b", "\\;", "c", "\\{", "d", "\\}"]),
        (r"a \\ b", ["a", "\\\\", "b"]),
        (r"\left(x\right.", ["\\left", "(", "x", "\\right", "."]),
        ("x % a comment", ["x"]),
        (r"50\% off", ["5", "0", "\\%", "o", "f", "f"]),
        ("a--b---c-d", ["a", "--", "b", "---", "c", "-", "d"]),
        ("α≤β", ["α", "≤", "β"]),
        (r"\operatorname*{lim}", ["\\operatorname", "*", "{", "l", "i", "m", "}"]),
    ],
)
def test_tokenize_cases(latex: str, tokens: list[str]) -> None:
    assert tokenize(latex) == tokens


def test_control_space_is_a_lone_backslash_so_joined_tokens_read_back() -> None:
    tokens = tokenize(r"a\ b\  c\ ")
    assert tokens == ["a", CONTROL_SPACE, "b", CONTROL_SPACE, "c", CONTROL_SPACE]
    assert tokenize(" ".join(tokens)) == tokens


def test_spaces_after_control_words_are_not_significant() -> None:
    assert scan(r"\text{if  x}\alpha  y") == [
        "\\text",
        "{",
        "i",
        "f",
        SPACE,
        "x",
        "}",
        "\\alpha",
        "y",
    ]


def test_comment_ends_at_line_end() -> None:
    assert tokenize("a % gone\nb") == ["a", "b"]


def test_is_control_word() -> None:
    assert is_control_word("\\alpha")
    assert not is_control_word("\\,")
    assert not is_control_word("\\")
    assert not is_control_word("a")


@pytest.mark.shared_data
def test_tokens_of_shared_formulas_lose_only_spaces(im2latex_dir) -> None:
    """Every character of the 17,918 normalized formulas survives, in order."""
    for split in ("test", "val"):
        path = im2latex_dir / "formulas" / f"{split}.formulas.norm.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            assert "".join(tokenize(line)) == line.replace(" ", ""), line


@pytest.mark.shared_data
def test_tokens_of_wikipedia_formulas_lose_only_whitespace(shared_dir) -> None:
    lines = (shared_dir / "corpora" / "wikipedia_math.txt").read_text(encoding="utf-8")
    for line in lines.splitlines():
        if "%" not in line.replace("\\%", ""):
            assert "".join(tokenize(line)) == re.sub(r"[ \t\r\n]", "", line), line
