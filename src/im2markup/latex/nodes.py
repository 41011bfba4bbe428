"""The formula tree built by `tree.parse` and printed by the normalizer and detokenizer."""

from __future__ import annotations

from dataclasses import dataclass, field


class LatexSyntaxError(ValueError):
    """The formula cannot be parsed; the message says why."""


@dataclass
class Atom:
    token: str


@dataclass
class Group:
    """A braced group `{ … }`."""

    children: list[Node]


@dataclass
class Optional:
    """An optional argument `[ … ]`."""

    children: list[Node]


@dataclass
class Command:
    name: str
    args: list[Node]


@dataclass
class Text:
    """A text-mode command; spaces inside became `~` atoms."""

    name: str
    children: list[Node]


@dataclass
class Script:
    base: Node
    sub: Node | None = None
    sup: Node | None = None


@dataclass
class LeftRight:
    left: str
    body: list[Node]
    right: str


@dataclass
class Row:
    rules: list[Node]
    cells: list[list[Node]]
    end: list[Node] | None = None


@dataclass
class Environment:
    name: str
    args: list[Node] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


Node = Atom | Group | Optional | Command | Text | Script | LeftRight | Environment
