"""LaTeX → the paper's normalized token string (IM2LATEX-100K's `formulas.norm` form).

The formula is parsed to a tree (`tree`) and printed back with one space between tokens:
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

from im2markup.latex import commands as cmd
from im2markup.latex.detokenizer import detokenize
from im2markup.latex.nodes import (
    Atom,
    Command,
    Environment,
    Group,
    LatexSyntaxError,
    Node,
    Optional,
    Row,
)
from im2markup.latex.tokenizer import CONTROL_SPACE, scan
from im2markup.latex.tree import parse
from im2markup.latex.writer import TokenWriter

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
    out = _NormalizedWriter().write(nodes)
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


class _NormalizedWriter(TokenWriter):
    def command(self, node: Command) -> None:
        self.out.append(node.name)
        always_braced = node.name in cmd.BRACED_ACCENTS or node.name.startswith("\\operatorname")
        for arg in node.args:
            if isinstance(arg, Optional):
                self.node(arg)
            elif node.name in cmd.DOUBLE_BRACED:
                # The paper wrote `\overline{x y}` as `\overline { { x y } }`. `{ { … } }` is final,
                # and so is `{ x }`, which is also what it made of `\overline x`.
                group = arg if isinstance(arg, Group) else Group([arg])
                if len(group.children) == 1 and isinstance(group.children[0], Group | Atom):
                    self.node(group)
                else:
                    self.group([group])
            elif always_braced or not isinstance(arg, Atom) or arg.token == CONTROL_SPACE:
                self.braced(arg)
            else:
                self.node(arg)

    def environment(self, env: Environment) -> None:
        self.out.append(f"\\begin{{{env.name}}}")
        self.nodes(env.args)
        aligned = env.name in cmd.ALIGNED_ENVIRONMENTS
        rows = env.rows[:-1] if _is_blank(env.rows[-1]) else env.rows
        # A normalized environment has every cell braced; a raw one's braced cell is content.
        braced = all(_is_braced(cell) for row in rows for cell in row.cells)
        for i, row in enumerate(env.rows):
            if i == len(env.rows) - 1 and _is_blank(row):
                self.nodes(row.rules)
                break
            self.nodes(row.rules)
            for j, cell in enumerate(row.cells):
                if j:
                    self.out.append("&")
                self.cell(cell, braced=braced, relation=aligned and j % 2 == 1)
            self.nodes(row.end or [Atom("\\\\")])
        self.out.append(f"\\end{{{env.name}}}")

    def cell(self, cell: list[Node], *, braced: bool, relation: bool) -> None:
        """A cell is printed as one group; in aligned's relation columns it starts with `{ }`."""
        unwrap = braced and len(cell) == 1 and isinstance(cell[0], Group)
        content = cell[0].children if unwrap else cell
        first = content[0] if content else None
        # Not before a script token either: the inserted group would become its base when read
        # back.
        settled = (isinstance(first, Group) and not first.children) or (
            isinstance(first, Atom) and first.token in ("^", "_")
        )
        if relation and not settled:
            content = [Group([]), *content]
        if content and isinstance(content[0], Command) and content[0].name in cmd.CELL_OPENERS:
            self.nodes(content)
        else:
            self.group(content)


def _is_blank(row: Row) -> bool:
    return len(row.cells) == 1 and not row.cells[0]


def _is_braced(cell: list[Node]) -> bool:
    first = cell[0] if cell else None
    return (len(cell) == 1 and isinstance(first, Group)) or (
        isinstance(first, Command) and first.name in cmd.CELL_OPENERS
    )
