"""LaTeX source → minimal tokens (the paper's "tokenized" form, before normalization).

A token is a control word (`\\alpha`), a control symbol (`\\,`, `\\{`, `\\\\`), a single
character, or one of the dash runs `--` / `---`, which the paper's tokenizer also kept whole.
A control space (`\\ `) is written as a lone backslash: in a space-separated token string the
separator that follows it is its space, so `" ".join(tokens)` reads back the same.

Whitespace is dropped, except that `scan` marks where it was (text mode needs it), and a `%`
comment runs to the end of its line, as in TeX.
"""

from __future__ import annotations

import re

SPACE = " "
CONTROL_SPACE = "\\"

_TOKEN = re.compile(
    r"""
      (?P<word>\\[A-Za-z]+)[ \t\r\n]*        # control word; TeX skips the spaces after it
    | (?P<space>[ \t\r\n]+)
    | (?P<comment>%[^\n]*)
    | (?P<cspace>\\(?:[ \t\r\n]+|$))       # control space (also a trailing lone backslash)
    | (?P<symbol>\\.)                    # control symbol
    | (?P<dash>---?)
    | (?P<char>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def scan(latex: str) -> list[str]:
    """Tokens of `latex` with each run of significant whitespace kept as one `SPACE` token.

    Spaces after a control word are not significant (TeX skips them) and comments vanish.
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(latex):
        kind = match.lastgroup
        if kind == "space":
            if not tokens or tokens[-1] != SPACE:
                tokens.append(SPACE)
        elif kind == "comment":
            continue
        elif kind == "cspace":
            tokens.append(CONTROL_SPACE)
        elif kind == "word":
            tokens.append(match.group("word"))
        else:
            tokens.append(match.group())
    return tokens


def tokenize(latex: str) -> list[str]:
    """Minimal LaTeX tokens of `latex`, whitespace and comments removed."""
    return [t for t in scan(latex) if t != SPACE]


def is_control_word(token: str) -> bool:
    """True for `\\name` tokens (letters only), which need a space before a following letter."""
    return len(token) > 1 and token[0] == "\\" and token[1:].isascii() and token[1:].isalpha()
