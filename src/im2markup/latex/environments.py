"""Environments: `\\begin{name} … \\end{name}` read as rows of cells (`tree` calls in).

Matrix variants become `\\left( \\begin{matrix} … \\end{matrix} \\right)`, display-only ones
(`align`, `eqnarray`, …) their in-formula counterparts, `equation` a group of its body.
"""

from __future__ import annotations

from typing import Protocol

from im2markup.latex import commands as cmd
from im2markup.latex.nodes import (
    Atom,
    Environment,
    Group,
    LatexSyntaxError,
    LeftRight,
    Node,
    Row,
)
from im2markup.latex.rewrites import letters, take_leading_rules

ROW_BREAKS = frozenset({"\\\\", "\\cr"})
CELL_STOPS = frozenset({"&", "\\\\", "\\cr", "\\end", "}"})


class TokenParser(Protocol):
    """What reading an environment needs of `tree.Parser`, which calls in here: a protocol
    rather than an import, so that the two modules do not import each other."""

    pos: int
    depth: int

    def peek(self) -> str | None: ...

    def expect(self, token: str, why: str) -> None: ...

    def parse_list(self, stop: frozenset[str], text: bool) -> list[Node]: ...

    def parse_argument(self, name: str, text: bool) -> Node: ...

    def parse_optional(self, text: bool) -> list[Node]: ...


def environment_name(parser: TokenParser) -> str:
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


def parse_environment(parser: TokenParser, text: bool) -> Node:
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


def _parse_rows(parser: TokenParser, name: str, text: bool) -> list[Row]:
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
