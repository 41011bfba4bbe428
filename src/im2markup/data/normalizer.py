"""LaTeX → the paper's normalized token string (IM2LATEX-100K's `formulas.norm` form).

The formula is parsed to a tree (`latex_tree`) and printed back with one space between tokens:
scripts always braced, subscript before superscript, `\\left(` glued to its delimiter, named
operators as `\\operatorname { s i n }`, `\\text` as `\\mathrm { … }` with spaces as `~`,
`a \\over b` as `\\frac { a } { b }`, matrices with braced cells and `\\\\` after every row.
Arguments keep the form they were written in (`\\frac 1 2` stays), as in the paper's data, so
that normalizing a normalized formula gives it back.

`normalize` never raises: a formula that cannot be parsed comes back with `error` set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from im2markup.data import latex_commands as cmd
from im2markup.data.detokenizer import detokenize
from im2markup.data.latex_nodes import (
    Atom,
    Command,
    Environment,
    Group,
    LatexSyntaxError,
    LeftRight,
    Node,
    Optional,
    Row,
    Script,
    Text,
)
from im2markup.data.latex_tree import parse
from im2markup.data.tokenizer import CONTROL_SPACE, scan

EMPTY = "empty formula"


@dataclass(frozen=True)
class Normalized:
    """The normalized form of one formula, or why there is none (`text` is then empty)."""

    text: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def tokens(self) -> list[str]:
        return self.text.split()


def normalize(latex: str) -> Normalized:
    """Normalize one formula; parse failures are reported in the result, never raised."""
    try:
        nodes = parse(scan(latex))
    except LatexSyntaxError as error:
        return Normalized("", str(error))
    except RecursionError:
        return Normalized("", "formula nested too deeply")
    out: list[str] = []
    for node in nodes:
        _emit(node, out)
    if not out:
        return Normalized("", EMPTY)
    return Normalized(" ".join(out))


def normalize_lines(lines: Iterable[str]) -> Iterator[Normalized]:
    """Normalize one formula per line (line ends stripped), in order."""
    for line in lines:
        yield normalize(line.rstrip("\r\n"))


def normalize_stream(source: TextIO, out: TextIO, err: TextIO, *, compact: bool = False) -> int:
    """Normalize `source` line by line into `out`; returns the number of lines that failed.

    A line that fails gives an empty output line and `line N: reason` on `err`, so that output
    line N always belongs to input line N; blank lines stay blank. `compact` writes the
    detokenized form instead.
    """
    failures = 0
    for number, result in enumerate(normalize_lines(source), start=1):
        if not result.ok and result.error != EMPTY:
            failures += 1
            print(f"line {number}: {result.error}", file=err)
        out.write((detokenize(result.text) if compact and result.ok else result.text) + "\n")
    return failures


def _emit(node: Node, out: list[str]) -> None:
    if isinstance(node, Atom):
        out.append(node.token)
    elif isinstance(node, Group):
        out.append("{")
        _emit_all(node.children, out)
        out.append("}")
    elif isinstance(node, Optional):
        out.append("[")
        _emit_all(node.children, out)
        out.append("]")
    elif isinstance(node, Script):
        _emit(node.base, out)
        if node.sub is not None:
            out.append("_")
            _emit_braced(node.sub, out)
        if node.sup is not None:
            out.append("^")
            _emit_braced(node.sup, out)
    elif isinstance(node, Command):
        _emit_command(node, out)
    elif isinstance(node, Text):
        out.append(node.name)
        out.append("{")
        _emit_all(node.children, out)
        out.append("}")
    elif isinstance(node, LeftRight):
        out.append("\\left" + node.left)
        _emit_all(node.body, out)
        out.append("\\right" + node.right)
    else:
        _emit_environment(node, out)


def _emit_all(nodes: list[Node], out: list[str]) -> None:
    for node in nodes:
        _emit(node, out)


def _emit_braced(node: Node, out: list[str]) -> None:
    if isinstance(node, Group):
        _emit(node, out)
    else:
        out.append("{")
        _emit(node, out)
        out.append("}")


def _emit_command(node: Command, out: list[str]) -> None:
    out.append(node.name)
    always_braced = node.name in cmd.BRACED_ACCENTS or node.name.startswith("\\operatorname")
    for arg in node.args:
        if isinstance(arg, Optional):
            _emit(arg, out)
        elif node.name in cmd.DOUBLE_BRACED:
            # The paper wrote `\overline{x y}` as `\overline { { x y } }`. `{ { … } }` is final,
            # and so is `{ x }`, which is also what it made of `\overline x`.
            group = arg if isinstance(arg, Group) else Group([arg])
            if len(group.children) == 1 and isinstance(group.children[0], Group | Atom):
                _emit(group, out)
            else:
                _emit(Group([group]), out)
        elif always_braced or not isinstance(arg, Atom) or arg.token == CONTROL_SPACE:
            _emit_braced(arg, out)
        else:
            _emit(arg, out)


def _emit_environment(env: Environment, out: list[str]) -> None:
    out.append(f"\\begin{{{env.name}}}")
    _emit_all(env.args, out)
    aligned = env.name in cmd.ALIGNED_ENVIRONMENTS
    rows = env.rows[:-1] if _is_blank(env.rows[-1]) else env.rows
    # A normalized environment has every cell braced; a raw one's braced cell is content.
    braced = all(_is_braced(cell) for row in rows for cell in row.cells)
    for i, row in enumerate(env.rows):
        if i == len(env.rows) - 1 and _is_blank(row):
            _emit_all(row.rules, out)
            break
        _emit_all(row.rules, out)
        for j, cell in enumerate(row.cells):
            if j:
                out.append("&")
            _emit_cell(cell, out, braced=braced, relation=aligned and j % 2 == 1)
        _emit_all(row.end or [Atom("\\\\")], out)
    out.append(f"\\end{{{env.name}}}")


def _is_blank(row: Row) -> bool:
    return len(row.cells) == 1 and not row.cells[0]


def _is_braced(cell: list[Node]) -> bool:
    first = cell[0] if cell else None
    return (len(cell) == 1 and isinstance(first, Group)) or (
        isinstance(first, Command) and first.name in cmd.CELL_OPENERS
    )


def _emit_cell(cell: list[Node], out: list[str], *, braced: bool, relation: bool) -> None:
    """A cell is printed as one group; in aligned's relation columns it starts with `{ }`."""
    unwrap = braced and len(cell) == 1 and isinstance(cell[0], Group)
    content = cell[0].children if unwrap else cell
    first = content[0] if content else None
    # Not before a script token either: the inserted group would become its base when read back.
    settled = (isinstance(first, Group) and not first.children) or (
        isinstance(first, Atom) and first.token in ("^", "_")
    )
    if relation and not settled:
        content = [Group([]), *content]
    if content and isinstance(content[0], Command) and content[0].name in cmd.CELL_OPENERS:
        _emit_all(content, out)
    else:
        _emit(Group(content), out)
