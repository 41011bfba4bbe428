"""CROHME's token set ↔ the project's normalized LaTeX, and the decoder mask for CROHME mode.

CROHME captions are written in a 110-symbol token set that differs from the normalized form
the models read and write in a few places: function names are single tokens (`\\sin`) where the
normalized form spells them out (`\\operatorname { s i n }`, `\\operatorname* { l i m }`), and
the normalized form always writes a subscript before a superscript. Everything else (`\\limits`,
`\\ldots`, `\\{`, `\\prime`, `'`, `\\sqrt [ n ]`) is already the same token in both.

`to_normalized` and `from_normalized` are inverse on every caption whose superscript never comes
before its subscript; the others come back with the two scripts swapped, which is the canonical
CROHME form (`canonical_crohme`) that scoring compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from im2markup.data.vocab import EOS_ID, Vocab

if TYPE_CHECKING:
    import torch

# The CROHME symbol set, as listed in the CROHME `dictionary.txt` (its `<eol>` entry aside).
CROHME_TOKENS: tuple[str, ...] = (
    *"0123456789",
    *"abcdefghijklmnopqrstuvwxyz",
    *"ABCEFGHILMNPRSTVXY",
    *"+-=<>()[]|/!.,'{}^_",
    r"\{", r"\}", r"\sqrt", r"\frac", r"\limits", r"\int", r"\sum", r"\lim", r"\log",
    r"\sin", r"\cos", r"\tan", r"\ldots", r"\cdots", r"\cdot", r"\times", r"\div", r"\pm",
    r"\geq", r"\leq", r"\neq", r"\in", r"\forall", r"\exists", r"\rightarrow", r"\infty",
    r"\prime", r"\alpha", r"\beta", r"\gamma", r"\theta", r"\lambda", r"\mu", r"\phi", r"\pi",
    r"\sigma", r"\Delta",
)  # fmt: skip

# CROHME function names and how the normalized form writes them.
_OPERATOR_NAMES: dict[str, tuple[str, ...]] = {
    r"\sin": (r"\operatorname", "{", "s", "i", "n", "}"),
    r"\cos": (r"\operatorname", "{", "c", "o", "s", "}"),
    r"\tan": (r"\operatorname", "{", "t", "a", "n", "}"),
    r"\log": (r"\operatorname", "{", "l", "o", "g", "}"),
    r"\lim": (r"\operatorname*", "{", "l", "i", "m", "}"),
}

# Normalized tokens a general model may write for a CROHME symbol (spellings of the same glyph).
_ALIASES: dict[str, str] = {
    r"\le": r"\leq",
    r"\ge": r"\geq",
    r"\ne": r"\neq",
    r"\to": r"\rightarrow",
    r"\lbrace": r"\{",
    r"\rbrace": r"\}",
    r"\vert": "|",
    r"\dots": r"\ldots",
    r"\lt": "<",
    r"\gt": ">",
    r"\left(": "(",
    r"\right)": ")",
    r"\left[": "[",
    r"\right]": "]",
    r"\left|": "|",
    r"\right|": "|",
    r"\left\{": r"\{",
    r"\right\}": r"\}",
}

_SPELLED_OUT: dict[tuple[str, ...], str] = {
    spelled: name for name, spelled in _OPERATOR_NAMES.items()
}
_SPELLED_OUT[(r"\operatorname", "{", "l", "i", "m", "}")] = r"\lim"

# Every token the normalized form of a CROHME caption can contain.
NORMALIZED_CROHME_TOKENS: frozenset[str] = frozenset(
    token for symbol in CROHME_TOKENS for token in _OPERATOR_NAMES.get(symbol, (symbol,))
)


def to_normalized(tokens: Sequence[str]) -> list[str]:
    """CROHME tokens → the project's normalized tokens.

    Raises `ValueError` naming the first token outside the CROHME set, so a caption in another
    token set is refused instead of silently passed through.
    """
    unknown = [t for t in tokens if t not in _CROHME_SET]
    if unknown:
        raise ValueError(f"not a CROHME token: {unknown[0]!r}")
    spelled = [part for t in tokens for part in _OPERATOR_NAMES.get(t, (t,))]
    return _subscript_first(spelled)


def from_normalized(tokens: Sequence[str]) -> list[str]:
    """Normalized tokens → CROHME tokens (sub- before superscript).

    Function names spelled with `\\operatorname` become their CROHME token and common alternative
    spellings (`\\le`, `\\to`, `\\left(` …) become the CROHME symbol they draw; other tokens are
    kept, so a prediction outside the CROHME set stays visibly wrong instead of being dropped.
    """
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for spelled, name in _SPELLED_OUT.items():
            if tuple(tokens[i : i + len(spelled)]) == spelled:
                out.append(name)
                i += len(spelled)
                break
        else:
            out.append(_ALIASES.get(tokens[i], tokens[i]))
            i += 1
    return _subscript_first(out)


def canonical_crohme(tokens: Sequence[str]) -> list[str]:
    """The form CROHME captions are compared in: the same tokens, subscript before superscript."""
    return _subscript_first(list(tokens))


def crohme_mask(vocab: Vocab) -> torch.Tensor:
    """Boolean mask over `vocab` (shape `len(vocab)`): True for the ids a CROHME decoder may emit.

    Those are the vocabulary's tokens that occur in normalized CROHME captions, plus `<eos>`.
    The decoder sets the scores of the other ids to −∞.
    """
    import torch

    mask = torch.zeros(len(vocab), dtype=torch.bool)
    mask[EOS_ID] = True
    for token in NORMALIZED_CROHME_TOKENS & set(vocab.tokens):
        mask[vocab.stoi[token]] = True
    return mask


_CROHME_SET = frozenset(CROHME_TOKENS)


def _subscript_first(tokens: list[str]) -> list[str]:
    """Rewrite every `^ A _ B` as `_ B ^ A`, inside nested groups too."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "^":
            sup_end = _argument_end(tokens, i + 1)
            if sup_end < len(tokens) and tokens[sup_end] == "_":
                sub_end = _argument_end(tokens, sup_end + 1)
                out += ["_", *_subscript_first(tokens[sup_end + 1 : sub_end])]
                out += ["^", *_subscript_first(tokens[i + 1 : sup_end])]
                i = sub_end
                continue
            out += ["^", *_subscript_first(tokens[i + 1 : sup_end])]
            i = sup_end
            continue
        out.append(tokens[i])
        i += 1
    return out


def _argument_end(tokens: list[str], start: int) -> int:
    """Index just after the script argument starting at `start` (a braced group or one token)."""
    if start >= len(tokens):
        return start
    if tokens[start] != "{":
        return start + 1
    depth = 0
    for j in range(start, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return j + 1
    return len(tokens)
