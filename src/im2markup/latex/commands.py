"""What the parser needs to know about LaTeX commands: arities, kinds and rewrites.

Commands missing from these tables are passed through as single tokens; the groups that follow
them stay groups. The rewrites reproduce the normalized form of IM2LATEX-100K (`\\sin` →
`\\operatorname { s i n }`, `\\text` → `\\mathrm`, `pmatrix` → `\\left( matrix \\right)`).
"""

from __future__ import annotations


def _commands(names: str) -> frozenset[str]:
    """`"frac sqrt"` → {`\\frac`, `\\sqrt`}: the tables below are easier to read unescaped."""
    return frozenset("\\" + name for name in names.split())


# Named operators: LaTeX's `\sin`-style commands, written as `\operatorname` (no limits) or
# `\operatorname*` (limits under/over in display), as the paper's normalizer did. The value is
# what the operator prints.
OPERATORS = {
    name: name[1:]
    for name in _commands(
        "arccos arcsin arctan arg cos cosh cot coth csc deg dim exp hom ker lg ln log sec sin "
        "sinh tan tanh"
    )
}
LIMIT_OPERATORS = {name: name[1:] for name in _commands("det gcd inf lim max min Pr sup")}
LIMIT_OPERATORS |= {"\\liminf": "lim\\,inf", "\\limsup": "lim\\,sup"}

FONT_COMMANDS = _commands(
    "mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak mathscr mathnormal boldsymbol "
    "bm pmb"
)
# Accents whose bare argument the paper wrapped in braces (`\hat x` → `\hat { x }`).
BRACED_ACCENTS = _commands("acute grave ddot tilde bar breve check hat vec dot phantom")
# `\overline{x y}` was written `\overline { { x y } }` by the paper's normalizer.
DOUBLE_BRACED = _commands("overline underline")
OTHER_UNARY = _commands(
    "widehat widetilde mathring overbrace underbrace overrightarrow overleftarrow "
    "overleftrightarrow underrightarrow underleftarrow underleftrightarrow hphantom vphantom "
    "boxed cancel bcancel xcancel pmod mathop mathbin mathrel mathord mathopen mathclose "
    "mathpunct mathinner operatorname operatorname* cline"
)
BINARY = _commands("frac dfrac tfrac cfrac binom dbinom tbinom stackrel overset underset")
# Commands with an optional `[...]` argument before their mandatory one.
OPTIONAL_FIRST = _commands("sqrt xrightarrow xleftarrow")

# Text-mode commands, written as the math font that looks the same, with their spaces as `~`
# (`\text{if }` → `\mathrm { i f ~ }`), as the paper's data has it for `\text`, `\mbox` and
# `\hbox`. A text command printed with the normalized form's separating spaces would show
# them, so none is kept.
TEXT_COMMANDS = {
    **dict.fromkeys(_commands("text mbox hbox textrm textup textnormal textmd textsc"), "\\mathrm"),
    **dict.fromkeys(_commands("textit emph textsl"), "\\mathit"),
    "\\textbf": "\\mathbf",
    "\\textsf": "\\mathsf",
    "\\texttt": "\\mathtt",
}
# Text commands absent from the normalized data, so never already normalized.
RAW_TEXT_COMMANDS = _commands("text mbox hbox")

# Cells starting with these are printed without braces (they must open their cell).
CELL_OPENERS = frozenset({"\\multicolumn"})


def arity(name: str) -> int:
    """Number of mandatory arguments the parser reads after `name` (0 for unknown commands)."""
    if name in CELL_OPENERS:
        return 3
    if name in BINARY:
        return 2
    if (
        name in FONT_COMMANDS
        or name in BRACED_ACCENTS
        or name in DOUBLE_BRACED
        or name in OTHER_UNARY
        or name in TEXT_COMMANDS
        or name in OPTIONAL_FIRST
    ):
        return 1
    return 0


# Dropped with their argument (if any): they do not change the picture.
DROPPED_WITH_ARGUMENT = _commands("label tag")
DROPPED = _commands("nonumber notag")
# Renamed tokens: `\>` is amsmath's medium space, the same as `\:`.
RENAMED = {"\\>": "\\:"}

# Infix fraction commands that become prefix ones; `\atop` was kept as is in the paper's data.
INFIX = {"\\over": "\\frac", "\\choose": "\\binom"}

# Delimiters allowed after `\left`, `\right` and `\middle` besides control sequences.
DELIMITER_CHARS = frozenset("()[]|/.<>")

# Environments rewritten to the ones the data uses. A `None` pair means no delimiters.
MATRIX_DELIMITERS = {
    "pmatrix": ("(", ")"),
    "bmatrix": ("[", "]"),
    "Bmatrix": ("\\{", "\\}"),
    "vmatrix": ("|", "|"),
    "Vmatrix": ("\\|", "\\|"),
}
RENAMED_ENVIRONMENTS = {
    "align": "aligned",
    "align*": "aligned",
    "flalign": "aligned",
    "flalign*": "aligned",
    "split": "aligned",
    "alignat": "alignedat",
    "alignat*": "alignedat",
    "gather": "gathered",
    "gather*": "gathered",
    "eqnarray": "array",
    "eqnarray*": "array",
}
# `eqnarray` is an array whose columns are right, centred and left aligned.
IMPLIED_COLUMNS = {"eqnarray": "rcl", "eqnarray*": "rcl"}
# Display wrappers whose body is the formula itself.
UNWRAPPED_ENVIRONMENTS = frozenset({"equation", "equation*", "displaymath", "math"})
# Environments with one mandatory argument (a column specification or a column count).
ENVIRONMENT_ARGUMENTS = frozenset({"array", "tabular", "subarray", "alignedat"})
# Environments taking a vertical position `[t]` first.
ENVIRONMENT_OPTIONAL = frozenset({"array", "tabular", "aligned", "alignedat", "gathered"})
# Environments whose even columns are relations, so a cell there starts with `{ }` (what
# amsmath inserts), keeping `&=` spaced like a relation when the cell is braced.
ALIGNED_ENVIRONMENTS = frozenset({"aligned", "alignedat"})
# Row prefixes printed before the first cell's brace.
ROW_RULES = _commands("hline hdashline cline")
