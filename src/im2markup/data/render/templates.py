"""LaTeX templates: one `Style` entry per way of typesetting a formula, and the batch document.

A batch document holds many formulas. Each is typeset in a `preview` environment (with
`tightpage` and no border, what `\\documentclass[preview]{standalone}` does) and its box is
placed on a sheet with others, a sheet being one PDF page (see `_SHEETS`). Markers written
to the log around every formula, with a per-batch nonce a formula cannot guess, tell which
errors and which slot of which sheet belong to which formula; the group and conditional
levels logged after each formula reveal a formula that leaked state into the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from string import Template

from im2markup.data.render.spacing import strip_spacing


@dataclass(frozen=True)
class Style:
    """How one style typesets a formula.

    `preamble` is everything before `\\begin{document}`; the formula goes between `open` and
    `close` on a line of its own (so a `%` in it cannot comment out the closing delimiter);
    `prepare` rewrites the formula first (e.g. the shared style strips spacing commands);
    `engine` is the TeX program (the handwritten style needs xelatex for its fonts).
    """

    name: str
    preamble: str
    open: str
    close: str
    prepare: Callable[[str], str] | None = None
    engine: str = "pdflatex"


STYLES: dict[str, Style] = {}


def register_style(style: Style) -> Style:
    """Add a style; a second style of the same name is a programming error."""
    if style.name in STYLES:
        raise ValueError(f"style {style.name!r} is already registered")
    STYLES[style.name] = style
    return style


def get_style(name: str) -> Style:
    """The style called `name`; an unknown name raises `ValueError` listing the known ones."""
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r}; known: {', '.join(sorted(STYLES))}") from None


register_style(
    Style(
        name="paper",
        preamble="\\documentclass[12pt]{article}\\pagestyle{empty}\\usepackage{amsmath}",
        open="\\begin{displaymath}",
        close="\\end{displaymath}",
    )
)
register_style(
    Style(
        name="shared",
        preamble="\\documentclass{article}",
        open="$$",
        close="$$",
        prepare=strip_spacing,
    )
)

MARKER = "IM2M"
# Formulas per sheet and rows before a new sheet.
SHEET_SLOTS = 64
SHEET_ROWS_PX = 6000
# Larger formulas are refused rather than rasterized (pixels per side, and in all).
MAX_SIDE_PX = 8000
MAX_AREA_PX = 24_000_000
# What differs between engines: clipping a box to its bounds (pdfTeX only; without it a wider
# gap between formulas keeps ink that sticks out of its box off its neighbours) and putting
# the sheet's top-left corner at the page's.
_ENGINES = {
    "pdflatex": {
        "CLIP_BEGIN": r"\pdfsave\pdfliteral{0 0 \imm@bp{\wd\imm@box} \imm@bp{\ht\imm@box} re W n}",
        "CLIP_END": r"\pdfrestore",
        "ORIGIN": r"\global\pdfhorigin=0pt \global\pdfvorigin=0pt \hoffset=0pt \voffset=0pt ",
        "GAP": 2,
    },
    "xelatex": {
        "CLIP_BEGIN": "",
        "CLIP_END": "",
        "ORIGIN": r"\hoffset=-1in \voffset=-1in ",
        "GAP": 24,
    },
}
# TeX points per inch and scaled points per point.
_PT_PER_INCH = 72.27
_SP_PER_PT = 65536

# Collects every `preview` box on a sheet instead of shipping it as a page of its own
# (Ghostscript's cost is largely per page). Each box sits at the bottom of a slot whose height
# is a whole number of pixels, so its bottom edge falls on a pixel boundary exactly as on its
# own tight page (Ghostscript anchors pages at the bottom), and it is clipped to its bounding
# box exactly as a tight page clips it: the pixels are those of a one-formula document.
# `preview` hands its box to \pr@shipout inside a group where \protect is \noexpand, hence
# primitives only in \imm@add.
_SHEETS = r"""
\makeatletter
\newbox\imm@sheet \newbox\imm@box
\newcount\imm@sheets \newcount\imm@top \newcount\imm@h \newcount\imm@w \newcount\imm@slots
\newdimen\imm@wd \newdimen\imm@boxwd
\def\imm@sp#1{\dimexpr\numexpr(#1)*$SP_PER_INCH_100/$DPI100\relax sp\relax}
\def\imm@px#1{\numexpr\dimexpr#1\relax*$DPI100/$SP_PER_INCH_100\relax}
\def\imm@bp#1{\strip@pt\dimexpr(#1)*7200/7227\relax}
\let\imm@shipout\pr@shipout
\def\pr@shipout{\afterassignment\imm@add\global\setbox\imm@box}
\def\imm@add{%
  \global\imm@h=\numexpr\imm@px{\ht\imm@box+\dp\imm@box}+1\relax
  \global\imm@w=\numexpr\imm@px{\wd\imm@box}+1\relax
  \ifnum\imm@w>$MAX_SIDE \imm@large\else
  \ifnum\imm@h>$MAX_SIDE \imm@large\else
  \ifnum\numexpr\imm@w*\imm@h/1000\relax>$MAX_AREA_K \imm@large\else
  \imm@place\fi\fi\fi}
\def\imm@large{\typeout{$TAG large \the\imm@w\space\the\imm@h}}
\def\imm@place{%
  \ifnum\numexpr\imm@top+$GAP+\imm@h\relax>$ROWS \ifnum\imm@slots>0 \imm@flush\fi\fi
  \global\setbox\imm@box\hbox{\raise\dp\imm@box\box\imm@box}%
  \global\setbox\imm@box\hbox{$CLIP_BEGIN\hbox to 0pt{\copy\imm@box\hss}$CLIP_END\kern\wd\imm@box}%
  \global\imm@boxwd=\wd\imm@box
  \ifdim\imm@boxwd>\imm@wd \global\imm@wd=\imm@boxwd\fi
  \global\setbox\imm@sheet\vbox{\offinterlineskip
    \ifvoid\imm@sheet\else\unvbox\imm@sheet\fi
    \vbox to\dimexpr\imm@sp{\imm@top+$GAP+\imm@h}-\imm@sp{\imm@top}\relax{\vss\box\imm@box}}%
  \global\imm@top=\numexpr\imm@top+$GAP+\imm@h\relax
  \global\advance\imm@slots\@ne
  \typeout{$TAG slot \the\numexpr\imm@sheets+1\relax\space\the\imm@top\space%
    \the\imm@h\space\the\imm@boxwd}%
  \ifnum\imm@slots<$SLOTS \else\imm@flush\fi}
\def\imm@flush{\ifvoid\imm@sheet\else
  \global\advance\imm@sheets\@ne
  \typeout{$TAG sheet \the\imm@sheets\space\the\imm@top}%
  \global\pdfpagewidth=\imm@wd \global\pdfpageheight=\imm@sp{\imm@top}%
  {$ORIGIN\imm@shipout\box\imm@sheet}%
  \global\imm@top=0 \global\imm@slots=0 \global\imm@wd=0pt
\fi}
\makeatother
"""


def batch_document(
    style: Style,
    formulas: Sequence[str],
    nonce: str,
    dpi: int,
    line_width_pt: float | None = None,
) -> str:
    """The LaTeX source of one batch; the log places formula `k` on a sheet (see `_SHEETS`).

    `line_width_pt` widens the text block for formulas that overflow the class's line (the
    page is as wide as the line, so an overfull display would be clipped).
    """
    tag = f"{MARKER}{nonce}"
    if style.engine not in _ENGINES:
        raise ValueError(f"style {style.name!r}: unsupported TeX engine {style.engine!r}")
    sheets = Template(_SHEETS).substitute(
        _ENGINES[style.engine],
        TAG=tag,
        DPI100=dpi * 100,
        SP_PER_INCH_100=round(_PT_PER_INCH * _SP_PER_PT * 100),
        SLOTS=SHEET_SLOTS,
        ROWS=SHEET_ROWS_PX,
        MAX_SIDE=MAX_SIDE_PX,
        MAX_AREA_K=MAX_AREA_PX // 1000,
    )
    lines = [
        style.preamble,
        "\\usepackage[active,tightpage]{preview}\\setlength\\PreviewBorder{0pt}",
        sheets,
    ]
    if line_width_pt is not None:
        lines.append(f"\\setlength\\textwidth{{{line_width_pt:.2f}pt}}")
    lines.append("\\begin{document}")
    levels = "\\the\\currentgrouplevel\\space\\the\\currentiflevel"
    for k, formula in enumerate(formulas):
        lines.append(f"\\typeout{{{tag} begin {k} {levels}}}\\begin{{preview}}{style.open}")
        lines.append(formula)
        lines.append(f"{style.close}\\end{{preview}}\\typeout{{{tag} end {k} {levels}}}")
    lines.append("\\makeatletter\\imm@flush\\makeatother")
    lines.append("\\end{document}")
    return "\n".join(lines) + "\n"
