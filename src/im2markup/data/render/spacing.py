"""The "nospace" form of a formula, as used by the later project that made the shared images.

Compared line by line with the im2markup-normalized formulas, that form drops the thin, medium
and word spaces (`\\,` `\\;` `~`) and every `\\hspace{…}`, and writes `\\operatorname{cos}` as
`\\cos` (its template had no amsmath). Control spaces went in pairs: a run of them keeps one
when its length is odd. `\\quad`, `\\qquad`, `\\!` and `\\:` are kept. Works on raw LaTeX as
well as on space-separated tokens; on the validation formulas it turns 99.0% of the
normalized lines into exactly their nospace line (the rest differ in invisible trailing
spaces or quirks of that project).
"""

from __future__ import annotations

import re

# A lossless lexer (unlike the tokenizer, it keeps every blank) so that the text around what is
# removed comes back unchanged: a blank, a control word, a control space, or one character.
_LEXEME = re.compile(r"\s+|\\[A-Za-z]+|\\\s|\\.?|.", re.DOTALL)
CONTROL_SPACE = "\\ "

_DROPPED = frozenset({r"\,", r"\;", "~"})
_ANYTHING_TO_STRIP = re.compile(r"\\[,;\s]|~|\\hspace|\\operatorname")

# The operators LaTeX itself defines, which `\\operatorname{…}` was rewritten to.
_OPERATOR_NAMES = (
    "arccos arcsin arctan arg cos cosh cot coth csc deg det dim exp gcd hom inf ker lg lim "
    "liminf limsup ln log max min Pr sec sin sinh sup tan tanh"
)
NAMED_OPERATORS = frozenset(_OPERATOR_NAMES.split())


def strip_spacing(formula: str) -> str:
    """Remove horizontal spacing commands and name known operators, as the shared formulas do."""
    if not _ANYTHING_TO_STRIP.search(formula):
        return formula
    tokens = [_classify(lexeme) for lexeme in _LEXEME.findall(formula)]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _DROPPED:
            i += 1
        elif token == CONTROL_SPACE:
            end, count = _control_space_run(tokens, i)
            out.extend([CONTROL_SPACE] * (count % 2))
            i = end
        elif token == r"\hspace" and (end := _group_end(tokens, _skip_star(tokens, i + 1))):
            i = end
        elif token == r"\operatorname" and (end := _group_end(tokens, _skip_star(tokens, i + 1))):
            name = "".join(t for t in tokens[i + 1 : end] if not t.isspace() and t != "*")[1:-1]
            if name in NAMED_OPERATORS:
                out.append("\\" + name)
                i = end
            else:
                out.append(token)
                i += 1
        else:
            out.append(token)
            i += 1
    return _join(out)


def _classify(lexeme: str) -> str:
    """Any backslash-blank becomes `CONTROL_SPACE`; the rest stays as is."""
    if len(lexeme) == 2 and lexeme[0] == "\\" and lexeme[1].isspace():
        return CONTROL_SPACE
    return lexeme


def _control_space_run(tokens: list[str], start: int) -> tuple[int, int]:
    """End index and length of the run of control spaces (blanks between them allowed)."""
    end = count = 0
    i = start
    while i < len(tokens) and (tokens[i] == CONTROL_SPACE or tokens[i].isspace()):
        if tokens[i] == CONTROL_SPACE:
            count += 1
            end = i + 1
        i += 1
    return end, count


def _skip_star(tokens: list[str], i: int) -> int:
    """Index after an optional `*` (with blanks) at `i`: `\\hspace*`, `\\operatorname*`."""
    j = i
    while j < len(tokens) and tokens[j].isspace():
        j += 1
    return j + 1 if j < len(tokens) and tokens[j] == "*" else i


def _group_end(tokens: list[str], start: int) -> int | None:
    """Index just past the brace group that starts at `start` (after blanks), or None."""
    i = start
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i == len(tokens) or tokens[i] != "{":
        return None
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return j + 1
    return None


def _join(tokens: list[str]) -> str:
    """Write tokens back: blanks that became neighbours merge (a line break wins, as it ends a
    `%` comment), and a control word is kept apart from a letter that now follows it."""
    parts: list[str] = []
    for token in tokens:
        if token.isspace():
            if parts and parts[-1].isspace():
                parts[-1] = "\n" if "\n" in parts[-1] + token else parts[-1]
            elif parts:
                parts.append(token)
            continue
        if parts and _is_control_word(parts[-1]) and token[0].isalpha():
            parts.append(" ")
        parts.append(token)
    if parts and parts[-1].isspace():
        parts.pop()
    return "".join(parts)


def _is_control_word(token: str) -> bool:
    return len(token) > 1 and token[0] == "\\" and token[1:].isalpha()
