"""Normalized tokens → compact LaTeX a person would paste, rendering to the same picture.

`x _ { i } ^ { 2 }` becomes `x_{i}^{2}`, `\\operatorname { s i n }` becomes `\\sin`, array
cells lose the braces the normalized form puts around them, and spaces are kept only where
TeX needs one: between a control word and a letter that follows it.
"""

from __future__ import annotations

import re

from im2markup.latex import commands as cmd
from im2markup.latex.nodes import Atom, Command, Environment, Group, LatexSyntaxError, Node
from im2markup.latex.tokenizer import CONTROL_SPACE, scan, tokenize
from im2markup.latex.tree import parse
from im2markup.latex.writer import TokenWriter

_ENDS_WITH_WORD = re.compile(r"\\[A-Za-z]+$")
# `\operatorname { s i n }` → `\sin`: the letters each builtin operator is written with.
_BUILTIN = {("\\operatorname", letters): name for name, letters in cmd.OPERATORS.items()} | {
    ("\\operatorname*", letters): name for name, letters in cmd.LIMIT_OPERATORS.items()
}


def detokenize(normalized: str) -> str:
    """Compact LaTeX for a normalized token string (any LaTeX is accepted; none is refused)."""
    try:
        nodes = parse(scan(normalized))
    except (LatexSyntaxError, RecursionError):
        return join_tokens(tokenize(normalized))
    return join_tokens(_CompactWriter().write(nodes))


def join_tokens(tokens: list[str]) -> str:
    """Concatenate tokens, with a space only where TeX would otherwise read them differently."""
    parts: list[str] = []
    previous = ""
    for token in tokens:
        if (
            previous == CONTROL_SPACE
            or (_ENDS_WITH_WORD.search(previous) and token[:1].isascii() and token[:1].isalpha())
            or (previous == "^" and token.startswith("^"))
        ):
            parts.append(" ")
        parts.append(token)
        previous = token
    if previous == CONTROL_SPACE:
        parts.append(" ")  # a final lone backslash would swallow whatever is put after it
    return "".join(parts)


class _CompactWriter(TokenWriter):
    def command(self, node: Command) -> None:
        arg = node.args[0] if len(node.args) == 1 else None
        if isinstance(arg, Group) and all(isinstance(c, Atom) for c in arg.children):
            letters = "".join(c.token for c in arg.children if isinstance(c, Atom))
            builtin = _BUILTIN.get((node.name, letters))
            if builtin:
                self.out.append(builtin)
                return
        self.out.append(node.name)
        self.nodes(node.args)

    def environment(self, env: Environment) -> None:
        self.out.append(f"\\begin{{{env.name}}}")
        self.nodes(env.args)
        rows = env.rows
        if len(rows) > 1 and len(rows[-1].cells) == 1 and not rows[-1].cells[0]:
            trailing_rules, rows = rows[-1].rules, rows[:-1]
        else:
            trailing_rules = []
        aligned = env.name in cmd.ALIGNED_ENVIRONMENTS
        contents = [
            [
                _cell_content(cell, relation=aligned and j % 2 == 1)
                for j, cell in enumerate(row.cells)
            ]
            for row in rows
        ]
        # A cell that must keep its braces keeps them all, so the result normalizes back the same.
        braced = any(_needs_braces(content) for row in contents for content in row)
        for i, (row, cells) in enumerate(zip(rows, contents, strict=True)):
            self.nodes(row.rules)
            for j, content in enumerate(cells):
                if j:
                    self.out.append("&")
                if braced:
                    self.group(content)
                else:
                    self.nodes(content)
            if i < len(rows) - 1 or trailing_rules:
                self.nodes(row.end or [Atom("\\\\")])
        self.nodes(trailing_rules)
        self.out.append(f"\\end{{{env.name}}}")


def _cell_content(cell: list[Node], *, relation: bool) -> list[Node]:
    """A cell without the normalized form's braces (amsmath adds the `{}` of `&{}=` itself)."""
    content = cell[0].children if len(cell) == 1 and isinstance(cell[0], Group) else cell
    if relation and content and isinstance(content[0], Group) and not content[0].children:
        return content[1:]
    return content


def _needs_braces(content: list[Node]) -> bool:
    """`[` or `*` after `\\\\` would be read as its option; a lone group would lose its braces."""
    first = content[0] if content else None
    return (isinstance(first, Atom) and first.token in ("[", "*")) or (
        len(content) == 1 and isinstance(first, Group)
    )
