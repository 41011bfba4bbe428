"""Near-miss labels: a formula with one small, visible change, for calibrating the verifier.

Each corruption takes the tokens of a space-stripped formula and a random generator and returns
the changed tokens, or `None` when the formula offers no place for it. They imitate the errors
a recognizer makes: a symbol read as another, a symbol lost, a digit misread, a small mark
(full stop, comma, prime, dot) lost, a script swapped, flipped or attached to the wrong symbol,
and `\\left( … \\right)` written as plain `( … )`.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np

Tokens = list[str]
Corruption = Callable[[Tokens, np.random.Generator], Tokens | None]

LETTERS = [*string.ascii_lowercase, *string.ascii_uppercase]
_GREEK_NAMES = (
    "alpha beta gamma delta epsilon zeta eta theta kappa lambda mu nu xi pi rho sigma tau phi "
    "chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega"
)
GREEK = ["\\" + name for name in _GREEK_NAMES.split()]
_OPERATOR_NAMES = (
    r"+ - = < > \pm \times \cdot \leq \geq \approx \equiv \sim \to \in \subset \cup \cap"
)
OPERATORS = _OPERATOR_NAMES.split()
DIGITS = list("0123456789")
SMALL_MARKS = frozenset({",", ".", ";", ":", "'", r"\prime", r"\cdot"})
VISIBLE = frozenset(
    [*LETTERS, *GREEK, *OPERATORS, *DIGITS, *"()[],.;:!|/'", r"\prime", r"\infty", r"\partial"]
)
# Pairs a reader cannot tell apart at this size, or that differ only in size.
_LOOKALIKES = [
    set("lI1|"),
    set("oO0"),
    {r"\epsilon", r"\in"},
    {"x", r"\times", r"\chi", "X"},
    {r"\sim", "-"},
    {r"\cdot", "."},
    {r"\rho", "p"},
    {r"\nu", "v"},
    {r"\omega", "w"},
    {r"\kappa", "k"},
    *({c, c.upper()} for c in "cosuvwxzpk"),
]


def _alike(a: str, b: str) -> bool:
    return any(a in group and b in group for group in _LOOKALIKES)


def _other(token: str, pool: list[str], rng: np.random.Generator) -> str:
    choices = [t for t in pool if t != token and not _alike(t, token)]
    return choices[int(rng.integers(len(choices)))]


def _pick(positions: list[int], rng: np.random.Generator) -> int | None:
    return positions[int(rng.integers(len(positions)))] if positions else None


def _alone(tokens: Tokens, i: int) -> bool:
    """Whether token i is the whole content of a brace group (removing it empties a script)."""
    return 0 < i < len(tokens) - 1 and tokens[i - 1] == "{" and tokens[i + 1] == "}"


def _group_end(tokens: Tokens, start: int) -> int | None:
    """Index after the brace group opening at `start`, or None."""
    if start >= len(tokens) or tokens[start] != "{":
        return None
    depth = 0
    for j in range(start, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return j + 1
    return None


def substitute(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """A letter, Greek letter or operator replaced by a different-looking one of its kind."""
    pools = (LETTERS, GREEK, OPERATORS)
    i = _pick([i for i, t in enumerate(tokens) if any(t in p for p in pools)], rng)
    if i is None:
        return None
    pool = next(p for p in pools if tokens[i] in p)
    return [*tokens[:i], _other(tokens[i], pool, rng), *tokens[i + 1 :]]


def digit(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """One digit changed."""
    i = _pick([i for i, t in enumerate(tokens) if t in DIGITS], rng)
    return None if i is None else [*tokens[:i], _other(tokens[i], DIGITS, rng), *tokens[i + 1 :]]


def delete(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """One visible symbol removed (not the only content of a group)."""
    positions = [i for i, t in enumerate(tokens) if t in VISIBLE and not _alone(tokens, i)]
    i = _pick(positions, rng)
    return None if i is None else tokens[:i] + tokens[i + 1 :]


def small_mark(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """One full stop, comma, colon, prime or centred dot removed."""
    positions = [i for i, t in enumerate(tokens) if t in SMALL_MARKS and not _alone(tokens, i)]
    i = _pick(positions, rng)
    return None if i is None else tokens[:i] + tokens[i + 1 :]


def script_swap(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """`x _ { a } ^ { b }` → `x _ { b } ^ { a }` (different contents)."""
    places = []
    for i, t in enumerate(tokens):
        first = _group_end(tokens, i + 1) if t in ("_", "^") else None
        if first is None or first >= len(tokens) or tokens[first] not in ("_", "^"):
            continue
        second = _group_end(tokens, first + 1)
        if (
            second is not None
            and tokens[first] != t
            and tokens[i + 1 : first] != tokens[first + 1 : second]
        ):
            places.append((i, first, second))
    if not places:
        return None
    i, first, second = places[int(rng.integers(len(places)))]
    return [
        *tokens[: i + 1],
        *tokens[first + 1 : second],
        tokens[first],
        *tokens[i + 1 : first],
        *tokens[second:],
    ]


def script_flip(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """A subscript written as a superscript or the reverse."""
    i = _pick([i for i, t in enumerate(tokens) if t in ("_", "^")], rng)
    return None if i is None else [*tokens[:i], {"_": "^", "^": "_"}[tokens[i]], *tokens[i + 1 :]]


def script_move(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """`a b _ { i }` → `a _ { i } b`: the script attached to the symbol before its own."""
    places = []
    for i, t in enumerate(tokens):
        if t in ("_", "^") and i >= 2 and tokens[i - 1] in VISIBLE and tokens[i - 2] in VISIBLE:
            end = _group_end(tokens, i + 1)
            if end is not None and (end >= len(tokens) or tokens[end] not in ("_", "^")):
                places.append((i, end))
    if not places:
        return None
    i, end = places[int(rng.integers(len(places)))]
    return [*tokens[: i - 1], *tokens[i:end], tokens[i - 1], *tokens[end:]]


def left_right(tokens: Tokens, rng: np.random.Generator) -> Tokens | None:
    """A `\\left( … \\right)` pair (not an invisible `.` side) written as plain delimiters."""
    opened, pairs = [], []
    for i, t in enumerate(tokens):
        if t.startswith("\\left") and not t[5:6].isalpha():
            opened.append(i)
        elif t.startswith("\\right") and not t[6:7].isalpha() and opened:
            pairs.append((opened.pop(), i))
    pairs = [(a, b) for a, b in pairs if tokens[a] != "\\left." and tokens[b] != "\\right."]
    if not pairs:
        return None
    a, b = pairs[int(rng.integers(len(pairs)))]
    changed = list(tokens)
    changed[a], changed[b] = tokens[a].removeprefix("\\left"), tokens[b].removeprefix("\\right")
    return changed


CORRUPTIONS: dict[str, Corruption] = {
    f.__name__: f
    for f in (
        substitute,
        digit,
        delete,
        small_mark,
        script_swap,
        script_flip,
        script_move,
        left_right,
    )
}
"""Every corruption by name, in the order of the report."""
