"""Marks for the tests that typeset in a browser: skipped without Debian's chromium or the
engines from npm (`setup.sh` installs them; so does `render.web.ensure_assets()`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from im2markup.data.render.web import installed

CHROMIUM = shutil.which("chromium")
WEB_TYPESET = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
    pytest.mark.skipif(
        not installed(), reason="KaTeX and MathJax are not installed (run setup.sh)"
    ),
]


def shared_test_formulas(im2latex_dir: Path, n: int) -> list[str]:
    """The first `n` normalized test formulas of the shared data."""
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    return lines[:n]


def web_typeset(test: Callable) -> Callable:
    """`WEB_TYPESET`'s marks on one test."""
    for mark in WEB_TYPESET:
        test = mark(test)
    return test
