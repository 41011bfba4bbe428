"""Close variants of a normalized formula: the edits a reader most often gets wrong.

Read formulas are most often wrong in ways a picture settles at once but the model cannot
weigh: the width of a space (`\\,` against `\\;`, one dropped or added), and a few look-alike
spellings (`\\left(` against `(`, `\\prime` against `'`). These are one-edit variants of a
token sequence, to be rendered and compared with the input (`serving.refine`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from im2markup.latex.commands import arity

# Spaces tried in place of one another (`\` alone is a control space) and inserted between
# top-level tokens.
SPACES = (r"\,", r"\;", r"\!", r"\quad", r"\qquad", "~", "\\")
INSERTED = (r"\,", r"\;", r"\quad")
# Every token that only adds horizontal space.
ALL_SPACES = frozenset([*SPACES, r"\:", r"\enspace", r"\thinspace"])
# Tokens after which a space would become an argument or a script, not a space.
_TAKES_NEXT = frozenset(["_", "^", "{", r"\left", r"\right"])
# Whole-formula swaps of look-alike spellings: each pair is tried both ways.
LOOK_ALIKES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    ((r"\left(", r"\right)"), ("(", ")")),
    ((r"\left[", r"\right]"), ("[", "]")),
    ((r"\left|", r"\right|"), ("|", "|")),
    ((r"\left\{", r"\right\}"), (r"\{", r"\}")),
    ((r"\prime",), ("'",)),
    ((r"\big|",), ("|",)),
    ((r"\cdot",), (".",)),
    ((r"\ldots",), (r"\cdots",)),
)


def spacing_variants(tokens: Sequence[str]) -> Iterator[list[str]]:
    """Every variant with one space removed, one space written as another of `SPACES`, or one
    of `INSERTED` put between two tokens outside any group or script."""
    tokens = list(tokens)
    for k, token in enumerate(tokens):
        if token in ALL_SPACES:
            yield tokens[:k] + tokens[k + 1 :]
            for other in SPACES:
                if other != token:
                    yield [*tokens[:k], other, *tokens[k + 1 :]]
    depth = 0
    for k in range(1, len(tokens)):
        before = tokens[k - 1]
        depth += (before == "{") - (before == "}")
        after = tokens[k]
        if depth or before in _TAKES_NEXT or arity(before) > 0:
            continue
        if before in ALL_SPACES or after in ALL_SPACES or after in ("_", "^", "}"):
            continue
        for space in INSERTED:
            yield [*tokens[:k], space, *tokens[k:]]


def look_alike_variants(tokens: Sequence[str]) -> Iterator[list[str]]:
    """Every variant with all of one look-alike spelling written as the other."""
    tokens = list(tokens)
    for one, other in LOOK_ALIKES:
        for source, target in ((one, other), (other, one)):
            if source[0] in tokens:
                swap = dict(zip(source, target, strict=True))
                yield [swap.get(token, token) for token in tokens]


def close_variants(tokens: Sequence[str]) -> list[list[str]]:
    """The spacing and look-alike variants of `tokens`, each once, `tokens` itself left out."""
    seen = {tuple(tokens)}
    variants = []
    for variant in (*spacing_variants(tokens), *look_alike_variants(tokens)):
        if tuple(variant) not in seen:
            seen.add(tuple(variant))
            variants.append(variant)
    return variants
