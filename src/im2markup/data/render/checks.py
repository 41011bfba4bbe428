"""Checks made in Python before a formula reaches TeX.

They refuse what would derail a whole batch (an unbalanced brace swallows the formulas after
it, an `\\end{preview}` closes our page early) or what TeX must never see (anything but math,
`im2markup.latex.allow_list`, and file and definition primitives, `im2markup.latex.safety`),
each with a reason a person can act on.
"""

from __future__ import annotations

import re

from im2markup.latex.allow_list import outside_allow_list
from im2markup.latex.safety import check_formula

MAX_CHARS = 4096
# Environments of the batch document itself.
RESERVED_ENVIRONMENTS = frozenset({"document", "preview"})

_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BRACE_LEXEME = re.compile(r"\\.|%[^\n]*|[{}]", re.DOTALL)
_ENVIRONMENT = re.compile(r"\\(begin|end)\s*\{\s*([^{}]*?)\s*\}")
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*")
_GROUP_LEXEME = re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\[a-zA-Z]+|\\.|[{}]", re.DOTALL)


def precheck(formula: str, max_chars: int = MAX_CHARS) -> str | None:
    """Why `formula` must not be typeset, or None if it may be."""
    if not formula.strip():
        return "empty formula"
    if len(formula) > max_chars:
        return f"formula has {len(formula)} characters, more than the limit of {max_chars}"
    control = _CONTROL_CHARACTER.search(formula)
    if control is not None:
        return f"formula contains the control character U+{ord(control.group()):04X}"
    return (
        _brace_problem(formula)
        or _environment_problem(formula)
        or _delimiter_problem(formula)
        or outside_allow_list(formula)
        or check_formula(formula)
    )


def _brace_problem(formula: str) -> str | None:
    depth = 0
    for lexeme in _BRACE_LEXEME.findall(formula):
        if lexeme == "{":
            depth += 1
        elif lexeme == "}":
            depth -= 1
            if depth < 0:
                return "unbalanced braces: a '}' closes no '{'"
    if depth > 0:
        return f"unbalanced braces: {depth} '{{' never closed"
    return None


def _environment_problem(formula: str) -> str | None:
    open_envs: list[str] = []
    text = _COMMENT.sub(r"\1", formula) if "%" in formula else formula
    for kind, name in _ENVIRONMENT.findall(text):
        if name in RESERVED_ENVIRONMENTS:
            return f"environment {name!r} is not allowed inside a formula"
        if kind == "begin":
            open_envs.append(name)
        elif not open_envs:
            return f"\\end{{{name}}} without a matching \\begin"
        elif open_envs[-1] != name:
            return f"\\end{{{name}}} closes \\begin{{{open_envs[-1]}}}"
        else:
            open_envs.pop()
    if open_envs:
        return f"\\begin{{{open_envs[-1]}}} is never closed"
    return None


def _delimiter_problem(formula: str) -> str | None:
    """A `\\right` without its `\\left`, or a `\\left` never closed, within one brace group:
    TeX wants both halves of a pair in the same group (`\\frac{\\left( a}{b \\right)}` fails)."""
    open_pairs = [0]
    for lexeme in _GROUP_LEXEME.findall(formula):
        if lexeme == "{":
            open_pairs.append(0)
        elif lexeme == "}" and len(open_pairs) > 1:
            if open_pairs.pop():
                return "a \\left is closed by a brace before its \\right"
        elif lexeme == "\\left":
            open_pairs[-1] += 1
        elif lexeme == "\\right":
            if not open_pairs[-1]:
                return "\\right without a matching \\left"
            open_pairs[-1] -= 1
    if any(open_pairs):
        return f"{sum(open_pairs)} \\left never closed by a \\right"
    return None
