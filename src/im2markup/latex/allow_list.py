"""The control sequences and environments a formula may hand to TeX: math, and nothing else.

A list of forbidden words can be talked around: TeX builds command names at run time
(`\\ExpandArgs{c}\\relax{let}` runs `\\let`, `\\begin{\\detokenize{…}}` any command), so a
formula is accepted only when every control sequence in it is one this package knows as math
(`known_commands`, and the commands the normalizer's tables rewrite), every control symbol a
spacing, accent or escaped character, every `\\begin`/`\\end` names a math environment
literally, and no `^^` escape spells a character (`^^5c` is a backslash). None of them reads
or writes files, defines, aliases or assigns globally, so one formula cannot change how
another renders. `safety.check_formula`, the word list, still runs after this as a second
line.
"""

from __future__ import annotations

from im2markup.latex import commands
from im2markup.latex.known_commands import KNOWN_COMMANDS, KNOWN_ENVIRONMENTS
from im2markup.latex.safety import ARRAYSTRETCH_SETTING
from im2markup.latex.tokenizer import CONTROL_SPACE, is_control_word, tokenize

_NORMALIZER_COMMANDS = frozenset().union(
    commands.OPERATORS,
    commands.LIMIT_OPERATORS,
    commands.FONT_COMMANDS,
    commands.BRACED_ACCENTS,
    commands.DOUBLE_BRACED,
    commands.OTHER_UNARY,
    commands.BINARY,
    commands.OPTIONAL_FIRST,
    commands.TEXT_COMMANDS,
    commands.INFIX,
    commands.DROPPED,
    commands.DROPPED_WITH_ARGUMENT,
    commands.ROW_RULES,
)
ALLOWED_COMMANDS: frozenset[str] = KNOWN_COMMANDS | {
    name[1:].removesuffix("*") for name in _NORMALIZER_COMMANDS
}
"""Control-word names, without the backslash."""
ALLOWED_SYMBOLS: frozenset[str] = frozenset(
    ["\\" + c for c in ",:;!>\\{}|#$%&_'\"^~=.-/*`"] + [CONTROL_SPACE]
)
"""Control symbols: spacing, line breaks, escaped characters, text accents, `\\/`, `\\-`."""
ALLOWED_ENVIRONMENTS: frozenset[str] = KNOWN_ENVIRONMENTS


def outside_allow_list(formula: str) -> str | None:
    """Why `formula` uses something other than math (the first such control sequence or
    environment), or None when every one it uses is allowed. Comments are read as TeX reads
    them: no allowed command can change what counts as one."""
    if "^^" in formula:
        return "^^ character escapes are not allowed: they can spell any command"
    tokens = tokenize(ARRAYSTRETCH_SETTING.sub(" ", formula))
    for at, token in enumerate(tokens):
        if not token.startswith("\\"):
            continue
        if is_control_word(token):
            if token[1:] not in ALLOWED_COMMANDS:
                return f"{token} is not a math command this renderer knows"
            if token in ("\\begin", "\\end"):
                problem = _environment_problem(tokens, at)
                if problem:
                    return problem
        elif token not in ALLOWED_SYMBOLS:
            return f"the control symbol {token} is not allowed in a formula"
    return None


def _environment_problem(tokens: list[str], at: int) -> str | None:
    """Why the `\\begin` or `\\end` at `tokens[at]` does not name an allowed environment
    literally, as `{name}`."""
    if at + 1 >= len(tokens) or tokens[at + 1] != "{":
        return f"{tokens[at]} must be followed by an environment name in braces"
    name = []
    for token in tokens[at + 2 :]:
        if token == "}":
            break
        if len(token) != 1:
            return f"{tokens[at]}{{…}} must spell its environment's name, not compute it"
        name.append(token)
    text = "".join(name)
    if text not in ALLOWED_ENVIRONMENTS:
        return f"environment {text!r} is not a math environment this renderer knows"
    return None
