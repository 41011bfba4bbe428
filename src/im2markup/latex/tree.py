"""A small recursive-descent parser from LaTeX tokens to a formula tree (`nodes`).

The tree keeps what the normalized form needs and nothing more: groups, scripts (with `'`
primes merged into the superscript), commands with a known number of arguments,
`\\left … \\right`, environments as rows of cells, text-mode arguments (where spaces count),
and the infix `\\over`/`\\choose` turned into prefix fractions. Any other token is an `Atom`.
Malformed input raises `LatexSyntaxError` with a reason; nothing else is raised.
"""

from __future__ import annotations

from im2markup.latex import commands as cmd
from im2markup.latex.environments import parse_environment
from im2markup.latex.nodes import (
    Atom,
    Command,
    Group,
    LatexSyntaxError,
    LeftRight,
    Node,
    Optional,
    Script,
    Text,
)
from im2markup.latex.rewrites import finish_list, letters, read_hskip, spaced_out
from im2markup.latex.tokenizer import CONTROL_SPACE, SPACE

MAX_DEPTH = 100
LEFT_RIGHT_STOPS = frozenset({"\\right", "}", "&", "\\end"})
# Tokens that can never be a command's argument or a script: structure, and the commands the
# parser rewrites or drops.
NOT_AN_ARGUMENT = (
    frozenset({"}", "&", "\\\\", "\\cr", "^", "_", "$", "\\rm"})
    | frozenset({"\\left", "\\middle", "\\right", "\\begin", "\\end"})
    | frozenset(cmd.INFIX)
    | cmd.DROPPED
    | cmd.DROPPED_WITH_ARGUMENT
)
_SCRIPT_TOKENS = frozenset({"_", "^", "'"}) | cmd.DROPPED | cmd.DROPPED_WITH_ARGUMENT


def parse(tokens: list[str]) -> list[Node]:
    """Parse `tokenizer.scan` tokens of a whole formula (math mode) into a list of nodes."""
    if not any(token in cmd.TEXT_COMMANDS for token in tokens):
        tokens = [token for token in tokens if token != SPACE]  # only text mode reads them
    parser = Parser(tokens)
    nodes = parser.parse_list(frozenset(), text=False)
    if parser.pos < len(tokens):
        raise LatexSyntaxError(f"unexpected {tokens[parser.pos]}")
    return nodes


class Parser:
    """Reads tokens left to right; each `parse_*` method consumes what it returns."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.quotes_are_primes = True

    def peek(self) -> str | None:
        """The next token that is not a space (spaces are skipped)."""
        tokens, pos = self.tokens, self.pos
        while pos < len(tokens):
            if tokens[pos] != SPACE:
                self.pos = pos
                return tokens[pos]
            pos += 1
        self.pos = pos
        return None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise LatexSyntaxError("unexpected end of formula")
        self.pos += 1
        return token

    def expect(self, token: str, why: str) -> None:
        if self.peek() != token:
            raise LatexSyntaxError(why)
        self.pos += 1

    def parse_list(self, stop: frozenset[str], text: bool) -> list[Node]:
        """Nodes up to (not including) a token in `stop` or the end, rewritten by `finish_list`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LatexSyntaxError(f"nested more than {MAX_DEPTH} levels deep")
        nodes: list[Node] = []
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token in stop:
                break
            if token == SPACE:
                self.pos += 1
                if text:
                    nodes.append(Atom("~"))
            elif (node := self.parse_item(text)) is not None:
                nodes.append(node)
        self.depth -= 1
        return finish_list(nodes)

    def parse_item(self, text: bool) -> Node | None:
        """One atom with its scripts (math mode), or None for dropped tokens.

        A `^` or `_` without a base stays a plain token, as in the paper's data (`{ ^ \\dagger }`);
        what follows it is read as an ordinary atom. TeX reads the printed tokens the same way.
        """
        if self.peek() in ("^", "_"):
            if text:
                raise LatexSyntaxError(f"{self.peek()} in text mode")
            return Atom(self.take())
        base = self.parse_primary(text)
        if base is None or text:
            return base
        return self.parse_scripts(base)

    def _next_raw(self) -> str | None:
        """The next token, spaces included (they count in text)."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_scripts(self, base: Node) -> Node:
        """`base` with the `_`, `^` and `'` that follow it, if any."""
        sub: Node | None = None
        sup: Node | None = None
        primes_only = False
        while (token := self.peek()) in _SCRIPT_TOKENS:
            if self.skip_dropped(text=False):
                continue
            if token == "_":
                if sub is not None:
                    raise LatexSyntaxError("double subscript")
                self.pos += 1
                sub = self.parse_script_argument("_")
            elif token == "^":
                if sup is not None and not primes_only:
                    raise LatexSyntaxError("double superscript")
                self.pos += 1
                arg = self.parse_script_argument("^")
                if isinstance(sup, Group):  # `x'^2` → `x ^ { \prime 2 }`
                    arg = Group(
                        [*sup.children, *(arg.children if isinstance(arg, Group) else [arg])]
                    )
                sup, primes_only = arg, False
            elif not self.quotes_are_primes:
                break
            elif sup is not None:
                raise LatexSyntaxError("double superscript")
            else:
                primes: list[Node] = []
                while self.peek() == "'":
                    self.pos += 1
                    primes.append(Atom("\\prime"))
                sup, primes_only = Group(primes), True
        return base if sub is None and sup is None else Script(base, sub, sup)

    def parse_script_argument(self, script: str) -> Node:
        """What a `_` or `^` applies to: a group, one token, or a command with its arguments."""
        token = self.peek()
        if token is None or token in NOT_AN_ARGUMENT:
            raise LatexSyntaxError(f"missing argument for {script}")
        if token == "{" or _takes_arguments(token):
            node = self.parse_primary(text=False)
            if node is None:
                raise LatexSyntaxError(f"missing argument for {script}")
            return node
        self.pos += 1
        return Atom(cmd.RENAMED.get(token, token))

    def parse_argument(self, name: str, text: bool) -> Node:
        """A mandatory argument: a group or a single token, as TeX reads undelimited ones."""
        token = self.peek()
        if token is None or token in NOT_AN_ARGUMENT:
            raise LatexSyntaxError(f"missing argument for {name}")
        if token != "{" and _takes_arguments(token):
            # `\hat\frac{a}{b}` is read as `\hat{\frac{a}{b}}`, so that it prints back parsable.
            node = self.parse_primary(text)
            assert node is not None
            return node
        self.pos += 1
        return self.parse_group(text) if token == "{" else Atom(cmd.RENAMED.get(token, token))

    def parse_optional(self, text: bool) -> list[Node]:
        """`[ … ]` if one comes next, as a one-element list (else an empty list)."""
        if self.peek() != "[":
            return []
        self.pos += 1
        children = self.parse_list(frozenset("]"), text)
        self.expect("]", "unclosed [")
        return [Optional(children)]

    def parse_group(self, text: bool) -> Group:
        """The rest of a group whose `{` was just taken."""
        children = self.parse_list(frozenset("}"), text)
        self.expect("}", "unbalanced braces: missing }")
        return Group(children)

    def parse_primary(self, text: bool) -> Node | None:
        """One group, command (with its arguments), environment or token; None if dropped."""
        token = self.take()
        if token == "{":
            # `{\rm x}` → `\mathrm { x }`: the group's braces become the argument's.
            switch = (self._next_raw() if text else self.peek()) == "\\rm"
            group = self.parse_group(text)
            return group.children[0] if switch and len(group.children) == 1 else group
        if token == "$":
            # `$…$`, math inside text (or inside an unknown box command's argument, as in
            # `\rlap{$\vert$}`), becomes a group: it keeps `GL$_q$` from reading as `L_q`.
            inner = self.parse_list(frozenset("$"), text=False)
            self.expect("$", "unmatched $")
            return Group(inner)
        if token in ("}", "\\right", "&", "\\end"):
            raise LatexSyntaxError(_misplaced(token))
        if token == "\\left":
            left = self.parse_delimiter(token)
            body = self.parse_list(LEFT_RIGHT_STOPS, text)
            self.expect("\\right", "\\left without matching \\right")
            return LeftRight(left, body, self.parse_delimiter("\\right"))
        if token == "\\middle":
            return Atom(token + self.parse_delimiter(token))
        if token == "\\begin":
            return parse_environment(self, text)
        if token in cmd.DROPPED or token in cmd.DROPPED_WITH_ARGUMENT:
            self.pos -= 1
            self.skip_dropped(text)
            return None
        if token == "\\hskip":
            node, self.pos = read_hskip(self.tokens, self.pos)
            return node
        if token == "\\operatorname" and self.peek() == "*":
            self.pos += 1
            token = "\\operatorname*"
        if token in cmd.OPERATORS:
            return Command("\\operatorname", [Group(letters(cmd.OPERATORS[token]))])
        if token in cmd.LIMIT_OPERATORS:
            return Command("\\operatorname*", [Group(letters(cmd.LIMIT_OPERATORS[token]))])
        if token in cmd.TEXT_COMMANDS:
            # `\textrm { f o r }` is already normalized: its spaces only separate tokens.
            spaced = self.peek() == "{" and spaced_out(self.tokens, self.pos)
            as_text = token in cmd.RAW_TEXT_COMMANDS or not spaced
            arg = self.parse_argument(token, text=as_text)
            font = cmd.TEXT_COMMANDS[token]
            return Text(font, arg.children if isinstance(arg, Group) else [arg])
        if token == "\\mathrm":
            # Its `'` stay quotes: they came from text mode (`\mbox{l'}` → `\mathrm { l ' }`).
            outer, self.quotes_are_primes = self.quotes_are_primes, False
            try:
                return Command(token, [self.parse_argument(token, text)])
            finally:
                self.quotes_are_primes = outer
        count = cmd.arity(token)
        if count:
            args = self.parse_optional(text) if token in cmd.OPTIONAL_FIRST else []
            args.extend(self.parse_argument(token, text) for _ in range(count))
            return Command(token, args)
        return Atom(cmd.RENAMED.get(token, token))

    def skip_dropped(self, text: bool) -> bool:
        """Consume `\\nonumber` or `\\label{…}` if it comes next; TeX sees through them, so a
        `'` or `^` after one still belongs to the atom before it."""
        token = self.peek()
        if token in cmd.DROPPED:
            self.pos += 1
            return True
        if token in cmd.DROPPED_WITH_ARGUMENT:
            self.pos += 1
            if self.peek() == "*":
                self.pos += 1
            self.parse_argument(token, text)
            return True
        return False

    def parse_delimiter(self, command: str) -> str:
        token = self.peek()
        if token is not None and (
            token in cmd.DELIMITER_CHARS
            or (token.startswith("\\") and token not in (CONTROL_SPACE, "\\\\"))
        ):
            self.pos += 1
            return token
        raise LatexSyntaxError(f"missing delimiter after {command}")


def _misplaced(token: str) -> str:
    return {
        "}": "unbalanced braces: unexpected }",
        "\\right": "\\right without \\left",
        "&": "& outside an environment",
        "\\end": "\\end without \\begin",
    }[token]


def _takes_arguments(token: str) -> bool:
    return cmd.arity(token) > 0 or token in cmd.OPERATORS or token in cmd.LIMIT_OPERATORS
