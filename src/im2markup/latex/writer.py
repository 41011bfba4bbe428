"""A formula tree (`tree.parse`) written back out as a list of tokens.

The normalizer and the detokenizer write atoms, groups, optional arguments, scripts, text and
`\\left … \\right` the same way; they differ in how commands and environments are written,
which is what their subclasses of `TokenWriter` decide.
"""

from __future__ import annotations

import abc

from im2markup.latex.nodes import (
    Atom,
    Command,
    Environment,
    Group,
    LeftRight,
    Node,
    Optional,
    Script,
    Text,
)


class TokenWriter(abc.ABC):
    """Appends the tokens of the nodes it is given to `out`, in order."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def write(self, nodes: list[Node]) -> list[str]:
        """The tokens of a parsed formula."""
        self.nodes(nodes)
        return self.out

    def node(self, node: Node) -> None:
        if isinstance(node, Atom):
            self.out.append(node.token)
        elif isinstance(node, Group):
            self.group(node.children)
        elif isinstance(node, Optional):
            self.out.append("[")
            self.nodes(node.children)
            self.out.append("]")
        elif isinstance(node, Script):
            self.node(node.base)
            for mark, arg in (("_", node.sub), ("^", node.sup)):
                if arg is not None:
                    self.out.append(mark)
                    self.braced(arg)
        elif isinstance(node, Command):
            self.command(node)
        elif isinstance(node, Text):
            self.out.append(node.name)
            self.group(node.children)
        elif isinstance(node, LeftRight):
            self.out.append("\\left" + node.left)
            self.nodes(node.body)
            self.out.append("\\right" + node.right)
        else:
            self.environment(node)

    def nodes(self, nodes: list[Node]) -> None:
        for node in nodes:
            self.node(node)

    def group(self, children: list[Node]) -> None:
        """`{ children }`."""
        self.out.append("{")
        for child in children:
            self.node(child)
        self.out.append("}")

    def braced(self, node: Node) -> None:
        """The node in braces: a group keeps its own, anything else gets a pair."""
        self.group(node.children if isinstance(node, Group) else [node])

    @abc.abstractmethod
    def command(self, node: Command) -> None:
        """A command with its arguments."""

    @abc.abstractmethod
    def environment(self, env: Environment) -> None:
        """`\\begin{…}` … `\\end{…}`."""
