"""XeLaTeX preamble that sets each formula's letters, digits and operators in handwriting fonts.

Every catalogued font becomes a math family in the preamble, with one macro per font and role
that points the math codes of its characters at it. A formula picks its hand with these macros
at the start of its display math (a group), so formulas in different hands share one run.
Characters no handwriting font has (Greek, ∑, ∫, √, arrows, fraction bars) stay in Latin Modern
and only become handwriting-like when the strokes are redrawn (`distort.py`).

Letters keep math class 7 ("variable"), so `\\mathcal`, `\\mathbb` and `\\mathrm` still switch
them to their own alphabets; function names (`\\operatorname { s i n }`) follow the handwriting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from im2markup.data.handwriting.fonts import LOWER, OPERATORS, UPPER, HandwritingFont

COMPILER = "xelatex"
# Latin Modern's x-height and capital height in ems: handwriting glyphs are scaled to match.
LM_X_HEIGHT = 0.4306
LM_CAP_HEIGHT = 0.6833
# Probability that capitals and digits come from the same font as the lower-case letters.
SAME_HAND = 0.6
# Probability that a formula's big operators are drawn at their in-line size.
SMALL_OPERATORS = 0.7
# Macros every document defines: `\\neq` keeps Latin Modern's "=" under its stroke (the slash
# is placed for that glyph), and `\\hwsmallops` makes ∫ ∑ ∏ ∮ keep their in-line size.
_FIXED_MACROS = r"""\mathchardef\hw@equal=\mathcode`\=
\DeclareRobustCommand\neq{\mathrel{\not\hw@equal}}
\let\ne\neq
\def\hw@small#1{\expandafter\let\csname hw@#1\expandafter\endcsname\csname #1\endcsname
  \expandafter\def\csname #1\endcsname{\mathop{\textstyle\csname hw@#1\endcsname}}}
\def\hwsmallops{\hw@small{intop}\hw@small{ointop}\hw@small{sum@}\hw@small{prod@}}"""


@dataclass(frozen=True)
class FontChoice:
    """How one formula is written.

    `lower` and `upper` index, in `fonts`, the font of the lower-case letters and the one of the
    capitals, digits and operators; `small_operators` draws ∫ ∑ ∏ at their in-line size even
    in display math, closer to how most people write them.
    """

    lower: int
    upper: int
    small_operators: bool


def choose_fonts(rng: np.random.Generator, fonts: Sequence[HandwritingFont]) -> FontChoice:
    """Random hand for one formula; often one font for everything, as one writer would."""
    lower = [i for i, f in enumerate(fonts) if "lower" in f.roles]
    upper = [i for i, f in enumerate(fonts) if "upper" in f.roles]
    first = int(rng.choice(lower))
    second = first if first in upper and rng.random() < SAME_HAND else int(rng.choice(upper))
    return FontChoice(first, second, bool(rng.random() < SMALL_OPERATORS))


def preamble(fonts: Sequence[HandwritingFont]) -> str:
    """Everything before `\\begin{document}`: math families per font and role, switch macros.

    Fonts are loaded with XeTeX's own `\\font` and given raw families because LaTeX refuses
    more than 16 symbol fonts; each is scaled so its "x" (or "H") is as tall as Latin Modern's.
    """
    lines = [
        r"\documentclass[12pt]{article}",
        r"\usepackage{amsmath,amssymb}",
        r"\pagestyle{empty}",
        r"\makeatletter",
        _FIXED_MACROS,
    ]
    for i, font in enumerate(fonts):
        tag = _tag(i)
        if "lower" in font.roles:
            family = f"hwl{tag}"
            lines += _family(family, font, LM_X_HEIGHT / font.x_height)
            codes = "".join(_mathcode(c, 7, family) for c in LOWER)
            lines.append(rf"\def\hwlower{tag}{{{codes}\def\operator@font{{\mathgroup\{family}}}}}")
        if "upper" in font.roles:
            family = f"hwu{tag}"
            lines += _family(family, font, LM_CAP_HEIGHT / font.cap_height)
            codes = "".join(_mathcode(c, 7, family) for c in UPPER)
            codes += "".join(_mathcode(c, OPERATORS[c], family) for c in font.operators)
            lines.append(rf"\def\hwupper{tag}{{{codes}}}")
    lines.append(r"\makeatother")
    return "\n".join(lines)


def hand_switch(choice: FontChoice) -> str:
    """TeX that switches the current math group to the chosen hand (put it inside the math)."""
    small = r"\hwsmallops" if choice.small_operators else ""
    return rf"\hwlower{_tag(choice.lower)}\hwupper{_tag(choice.upper)}{small} "


def _tag(index: int) -> str:
    """Letters naming font `index` in control sequences (TeX names cannot hold digits)."""
    if not 0 <= index < 26 * 26:
        raise ValueError(f"font index {index} out of range")
    return "abcdefghijklmnopqrstuvwxyz"[index // 26] + "abcdefghijklmnopqrstuvwxyz"[index % 26]


def _family(family: str, font: HandwritingFont, scale: float) -> list[str]:
    """TeX lines loading `font` at the three math sizes of a 12 pt document into `family`."""
    sizes = {"t": 12 * scale, "s": 8 * scale, "ss": 6 * scale}
    loads = [f'\\font\\{family}{size}="[{font.path}]" at {pt:.3f}pt' for size, pt in sizes.items()]
    assign = " ".join(
        f"\\{kind}font\\{family}=\\{family}{size}"
        for kind, size in (("text", "t"), ("script", "s"), ("scriptscript", "ss"))
    )
    return [f"\\newfam\\{family}", *loads, assign]


def _mathcode(char: str, math_class: int, family: str) -> str:
    return rf"\Umathcode`\{char}={math_class} \{family} `\{char} "
