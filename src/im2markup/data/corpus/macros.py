"""Author macros of a LaTeX document: which exist, and expanding the argument-free ones.

Papers define shorthands (`\\def\\be{\\begin{equation}}`, `\\newcommand{\\R}{{\\cal R}}`); a formula
written with them is only usable once they are replaced by their bodies. Macros that take
arguments are only recorded, so that formulas using them can be skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"\\(?P<name>[A-Za-z]+)"
_NEWCOMMAND = re.compile(
    r"\\(?:re|provide)?newcommand\*?\s*(?:\{\s*\\(?P<name>[A-Za-z]+)\s*\}|\\(?P<name2>[A-Za-z]+))"
    r"\s*(?:\[\s*(?P<nargs>\d)\s*\])?\s*(?:\[[^\]]*\])?\s*\{"
)
_DEF = re.compile(r"\\[gex]?def\s*" + _NAME + r"(?P<params>[^{]*)\{")
_OPERATOR = re.compile(r"\\DeclareMathOperator(?P<star>\*?)\s*\{\s*" + _NAME + r"\s*\}\s*\{")
_LET = re.compile(r"\\let\s*" + _NAME + r"\s*=?\s*(?P<target>\\[A-Za-z]+|\\.|[^\\\s])")
_MAX_PASSES = 8


def group_end(text: str, start: int) -> int:
    """Index just past the brace group opening at `text[start] == '{'`, or -1 if unbalanced."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


@dataclass
class Macros:
    """Definitions found in a document (or a bundle of files read as one document)."""

    simple: dict[str, str] = field(default_factory=dict)
    with_arguments: set[str] = field(default_factory=set)

    def define(self, name: str, body: str | None) -> None:
        """Record a macro; a `None` body means it takes arguments."""
        if body is None:
            self.simple.pop(name, None)
            self.with_arguments.add(name)
        else:
            self.with_arguments.discard(name)
            self.simple[name] = body

    @property
    def names(self) -> set[str]:
        return set(self.simple) | self.with_arguments


def _definitions(text: str) -> list[tuple[int, int, str, str | None]]:
    """(start, end, name, body or None) of every definition, in document order."""
    found = []
    for pattern in (_NEWCOMMAND, _DEF, _OPERATOR):
        for match in pattern.finditer(text):
            end = group_end(text, match.end() - 1)
            if end < 0:
                continue
            name = match.group("name") or match.groupdict().get("name2")
            body = text[match.end() : end - 1]
            if pattern is _OPERATOR:
                body = f"\\operatorname{match.group('star')}{{{body}}}"
            elif (pattern is _NEWCOMMAND and int(match.group("nargs") or 0) > 0) or (
                pattern is _DEF and "#" in match.group("params")
            ):
                body = None
            elif pattern is _DEF and match.group("params").strip():
                continue
            found.append((match.start(), end, name, body))
    for match in _LET.finditer(text):
        found.append((match.start(), match.end(), match.group("name"), match.group("target")))
    found.sort()
    kept, last_end = [], -1
    for item in found:
        if item[0] >= last_end:
            kept.append(item)
            last_end = item[1]
    return kept


def collect(text: str, macros: Macros | None = None) -> tuple[Macros, str]:
    """Record the definitions in `text` and return it with the definitions cut out.

    Cutting them out keeps a definition body such as `\\begin{equation}` from being read as the
    start of a display.
    """
    macros = macros if macros is not None else Macros()
    pieces, position = [], 0
    for start, end, name, body in _definitions(text):
        macros.define(name, body)
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    return macros, " ".join(pieces)


def expand(text: str, macros: Macros) -> str:
    """Replace argument-free macros by their bodies, repeatedly (macros may use macros).

    A control word swallows the spaces after it, as in TeX; a space is put back after a body
    ending in a control word so that `\\a b` with `\\a` = `\\alpha` gives `\\alpha b`.
    Expansion stops after a few passes or when the text has grown fourfold (a macro that uses
    itself); what is left unexpanded makes its formulas fail the known-command check.
    """
    if not macros.simple:
        return text
    limit = 4 * len(text) + 4096
    names = sorted(macros.simple, key=len, reverse=True)
    pattern = re.compile(r"\\(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z])[ \t]*")

    def body(match: re.Match[str]) -> str:
        replacement = macros.simple[match.group(1)]
        return replacement + " " if re.search(r"\\[A-Za-z]+$", replacement) else replacement

    for _ in range(_MAX_PASSES):
        expanded = pattern.sub(body, text)
        if expanded == text or len(expanded) > limit:
            break
        text = expanded
    return text
