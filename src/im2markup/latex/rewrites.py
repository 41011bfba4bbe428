"""Rewrites applied to a parsed list of nodes: the parts of the normalized form that are not
a direct reading of the tokens (`\\rm` scopes, infix fractions, row rules)."""

from __future__ import annotations

from im2markup.latex import commands as cmd
from im2markup.latex.nodes import Atom, Command, Group, LatexSyntaxError, Node
from im2markup.latex.tokenizer import SPACE, is_control_word


def finish_list(nodes: list[Node]) -> list[Node]:
    """Group-level rewrites, in TeX's scoping: `a \\rm b c` → `a \\mathrm { b c }`, then
    `a \\over b` → `\\frac { a } { b }` (and `\\choose` → `\\binom`)."""
    for i, node in enumerate(nodes):
        if isinstance(node, Atom) and node.token == "\\rm":
            nodes = [*nodes[:i], Command("\\mathrm", [Group(finish_list(nodes[i + 1 :]))])]
            break
    infix = [i for i, n in enumerate(nodes) if isinstance(n, Atom) and n.token in cmd.INFIX]
    if not infix:
        return nodes
    if len(infix) > 1:
        raise LatexSyntaxError("ambiguous fraction: two \\over or \\choose in one group")
    i = infix[0]
    operator = nodes[i]
    assert isinstance(operator, Atom)
    return [Command(cmd.INFIX[operator.token], [_as_group(nodes[:i]), _as_group(nodes[i + 1 :])])]


def _as_group(nodes: list[Node]) -> Group:
    """`{a} \\over b`: a lone group is the numerator itself, as the paper's normalizer had it."""
    if len(nodes) == 1 and isinstance(nodes[0], Group):
        return nodes[0]
    return Group(nodes)


def take_leading_rules(cell: list[Node]) -> list[Node]:
    """Remove `\\hline`-like rules from the start of a row's first cell and return them: they
    are printed before the cell's brace, where TeX accepts them."""
    count = 0
    for node in cell:
        name = node.token if isinstance(node, Atom) else None
        if isinstance(node, Command):
            name = node.name
        if name not in cmd.ROW_RULES:
            break
        count += 1
    rules = cell[:count]
    del cell[:count]
    return rules


def letters(word: str) -> list[Node]:
    """`lim\\,inf` → atoms `l i m \\, i n f` (one atom per character or control symbol)."""
    out: list[Node] = []
    i = 0
    while i < len(word):
        width = 2 if word[i] == "\\" else 1
        out.append(Atom(word[i : i + width]))
        i += width
    return out


def spaced_out(tokens: list[str], start: int) -> bool:
    """Whether the group opening at `tokens[start]` has a space after every token.

    That is how a normalized text argument looks (`\\textrm { f o r }`); raw text has adjacent
    letters. Control words are exempt since the tokenizer drops the space after them.
    """
    depth = 0
    for i in range(start, len(tokens) - 1):
        token, following = tokens[i], tokens[i + 1]
        depth += (token == "{") - (token == "}")
        if depth == 0:
            return True
        if token != SPACE and following != SPACE and not is_control_word(token):
            return False
    return True


def read_hskip(tokens: list[str], pos: int) -> tuple[Node, int]:
    """`\\hskip 1cm` → `\\hspace { 1 c m }`, what the paper's preprocessing did; `pos` is just
    after `\\hskip`. Returns the node and the position after what it used."""
    end = pos
    while end < len(tokens) and (tokens[end] in _NUMBER_CHARS or tokens[end].isdigit()):
        end += 1
    unit = "".join(tokens[end : end + 2])
    if end > pos and unit in _UNITS:
        amount = "".join(tokens[pos:end]) + unit
        return Command("\\hspace", [Group(letters(amount))]), end + 2
    return Atom("\\hskip"), pos


_NUMBER_CHARS = frozenset("+-.,")
_UNITS = frozenset({"pt", "cm", "mm", "in", "em", "ex", "bp", "pc", "dd", "cc", "sp", "mu"})
