"""Environments: `\\begin{name} … \\end{name}` read as rows of cells (`latex_tree` calls in).

Matrix variants become `\\left( \\begin{matrix} … \\end{matrix} \\right)`, display-only ones
(`align`, `eqnarray`, …) their in-formula counterparts, `equation` a group of its body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from im2markup.data import latex_commands as cmd
from im2markup.data.latex_nodes import (
    Atom,
    Environment,
    Group,
    LatexSyntaxError,
    LeftRight,
    Node,
    Row,
)
from im2markup.data.latex_rewrites import letters, take_leading_rules

if TYPE_CHECKING:
    from im2markup.data.latex_tree import Parser

ROW_BREAKS = frozenset({"\\\\", "\\cr"})
CELL_STOPS = frozenset({"&", "\\\\", "\\cr", "\\end", "}"})


def environment_name(parser: Parser) -> str:
    """The `{name}` after `\\begin` or `\\end`: letters and `*`."""
    parser.expect("{", "missing environment name")
    name = []
    while (token := parser.peek()) not in ("}", None):
        name.append(token)
        parser.pos += 1
    parser.expect("}", "unclosed environment name")
    joined = "".join(name)
    if not joined or not all(c.isascii() and (c.isalpha() or c == "*") for c in joined):
        raise LatexSyntaxError(f"bad environment name {joined!r}")
    return joined


def parse_environment(parser: Parser, text: bool) -> Node:
    """An environment whose `\\begin` was just taken, up to and including its `\\end{…}`."""
    name = environment_name(parser)
    delimiters = cmd.MATRIX_DELIMITERS.get(name)
    env = Environment("matrix" if delimiters else cmd.RENAMED_ENVIRONMENTS.get(name, name))
    if env.name in cmd.ENVIRONMENT_OPTIONAL:
        env.args = parser.parse_optional(text)
    if name in cmd.IMPLIED_COLUMNS:
        env.args.append(Group(letters(cmd.IMPLIED_COLUMNS[name])))
    elif env.name in cmd.ENVIRONMENT_ARGUMENTS:
        env.args.append(parser.parse_argument(f"\\begin{{{name}}}", text))
    parser.depth += 1
    env.rows = _parse_rows(parser, name, text)
    parser.depth -= 1
    parser.pos += 1
    closing = environment_name(parser)
    if closing != name:
        raise LatexSyntaxError(f"\\begin{{{name}}} ended by \\end{{{closing}}}")
    if name in cmd.UNWRAPPED_ENVIRONMENTS:
        if len(env.rows) > 1 or len(env.rows[0].cells) > 1:
            raise LatexSyntaxError(f"rows or columns in {name}")
        return Group(env.rows[0].rules + env.rows[0].cells[0])
    return LeftRight(delimiters[0], [env], delimiters[1]) if delimiters else env


def _parse_rows(parser: Parser, name: str, text: bool) -> list[Row]:
    rows: list[Row] = []
    while True:
        cells = [parser.parse_list(CELL_STOPS, text)]
        while parser.peek() == "&":
            parser.pos += 1
            cells.append(parser.parse_list(CELL_STOPS, text))
        row = Row(take_leading_rules(cells[0]), cells)
        rows.append(row)
        token = parser.peek()
        if token == "\\end":
            return rows
        if token not in ROW_BREAKS:
            raise LatexSyntaxError(f"\\begin{{{name}}} without \\end{{{name}}}")
        parser.pos += 1
        if parser.peek() == "*":
            parser.pos += 1
        row.end = [Atom("\\\\"), *parser.parse_optional(text)]
