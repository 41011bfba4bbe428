"""Normalized tokens → compact LaTeX a person would paste, rendering to the same picture.

`x _ { i } ^ { 2 }` becomes `x_{i}^{2}`, `\\operatorname { s i n }` becomes `\\sin`, array
cells lose the braces the normalized form puts around them, and spaces are kept only where
TeX needs one: between a control word and a letter that follows it.
"""

from __future__ import annotations

import re

from im2markup.data import latex_commands as cmd
from im2markup.data.latex_nodes import (
    Atom,
    Command,
    Environment,
    Group,
    LatexSyntaxError,
    LeftRight,
    Node,
    Optional,
    Script,
    Text,
)
from im2markup.data.latex_tree import parse
from im2markup.data.tokenizer import CONTROL_SPACE, scan, tokenize

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
    out: list[str] = []
    for node in nodes:
        _emit(node, out)
    return join_tokens(out)


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


def _emit(node: Node, out: list[str]) -> None:
    if isinstance(node, Atom):
        out.append(node.token)
    elif isinstance(node, Group):
        _emit_group(node.children, out)
    elif isinstance(node, Optional):
        out.append("[")
        _emit_all(node.children, out)
        out.append("]")
    elif isinstance(node, Script):
        _emit(node.base, out)
        for mark, arg in (("_", node.sub), ("^", node.sup)):
            if arg is not None:
                out.append(mark)
                _emit_group(arg.children if isinstance(arg, Group) else [arg], out)
    elif isinstance(node, Command):
        _emit_command(node, out)
    elif isinstance(node, Text):
        out.append(node.name)
        _emit_group(node.children, out)
    elif isinstance(node, LeftRight):
        out.append("\\left" + node.left)
        _emit_all(node.body, out)
        out.append("\\right" + node.right)
    else:
        _emit_environment(node, out)


def _emit_all(nodes: list[Node], out: list[str]) -> None:
    for node in nodes:
        _emit(node, out)


def _emit_group(children: list[Node], out: list[str]) -> None:
    out.append("{")
    _emit_all(children, out)
    out.append("}")


def _emit_command(node: Command, out: list[str]) -> None:
    arg = node.args[0] if len(node.args) == 1 else None
    if isinstance(arg, Group) and all(isinstance(c, Atom) for c in arg.children):
        letters = "".join(c.token for c in arg.children if isinstance(c, Atom))
        builtin = _BUILTIN.get((node.name, letters))
        if builtin:
            out.append(builtin)
            return
    out.append(node.name)
    _emit_all(node.args, out)


def _emit_environment(env: Environment, out: list[str]) -> None:
    out.append(f"\\begin{{{env.name}}}")
    _emit_all(env.args, out)
    rows = env.rows
    if len(rows) > 1 and len(rows[-1].cells) == 1 and not rows[-1].cells[0]:
        trailing_rules, rows = rows[-1].rules, rows[:-1]
    else:
        trailing_rules = []
    aligned = env.name in cmd.ALIGNED_ENVIRONMENTS
    contents = [
        [_cell_content(cell, relation=aligned and j % 2 == 1) for j, cell in enumerate(row.cells)]
        for row in rows
    ]
    # A cell that must keep its braces keeps them all, so the result normalizes back the same.
    braced = any(_needs_braces(content) for row in contents for content in row)
    for i, (row, cells) in enumerate(zip(rows, contents, strict=True)):
        _emit_all(row.rules, out)
        for j, content in enumerate(cells):
            if j:
                out.append("&")
            if braced:
                _emit_group(content, out)
            else:
                _emit_all(content, out)
        if i < len(rows) - 1 or trailing_rules:
            _emit_all(row.end or [Atom("\\\\")], out)
    _emit_all(trailing_rules, out)
    out.append(f"\\end{{{env.name}}}")


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
