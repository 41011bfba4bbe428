"""Items read right except for spacing, and which spacing commands were added or dropped.

The paper's "match −ws" ignores blank columns when it compares images; an item that matches
that way but not exactly was rendered with other horizontal spaces than its gold. The gap
between the two matches is the share of such items, and to close it one must know what the
model gets wrong: spacing it adds, spacing it drops, or one space written as another. This
compares the spacing commands of the gold and the prediction of each such item, and how far
apart their widths are: a space written as another of (nearly) the same width is a miss the
image barely shows, where one a whole space too wide is plain to see.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

# Normalized tokens that only put horizontal space between glyphs (`\` is a control space).
SPACING_COMMANDS = (
    r"\,",
    r"\:",
    r"\;",
    r"\!",
    "~",
    "\\",
    r"\quad",
    r"\qquad",
    r"\enspace",
    r"\thinspace",
    r"\hspace",
    r"\kern",
    r"\mkern",
    r"\hfill",
)
# Widths in mu (1/18 em) in the paper's 12 pt template: TeX's thin, medium, thick and negative
# thin spaces; a control space and a tie take cmr12's interword space (0.326 em); the quads.
# At the paper's scale (200 dpi, downsampled ×2) one mu is 0.92 pixels.
WIDTH_MU = {
    r"\,": 3.0,
    r"\:": 4.0,
    r"\;": 5.0,
    r"\!": -3.0,
    "~": 5.9,
    "\\": 5.9,
    r"\quad": 18.0,
    r"\qquad": 36.0,
    r"\enspace": 9.0,
    r"\thinspace": 3.0,
}
# mu per unit of an `\hspace` length at 12 pt (1 pt = 1.5 mu).
UNIT_MU = {
    "mu": 1.0,
    "em": 18.0,
    "ex": 7.75,
    "pt": 1.5,
    "bp": 1.5 * 72.27 / 72,
    "pc": 18.0,
    "in": 1.5 * 72.27,
    "cm": 1.5 * 72.27 / 2.54,
    "mm": 1.5 * 72.27 / 25.4,
}
_LENGTH = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(mu|em|ex|pt|bp|pc|in|cm|mm)")
# How far the widest misjudged gap of an item is off, in mu (upper bounds, open above).
WIDTH_BINS = {
    "under 1 mu (under a pixel at the paper's scale)": 1.0,
    "1–3 mu": 3.0,
    "3–6 mu": 6.0,
    "6 mu or more (a whole space or more)": math.inf,
}
NOT_COMPARABLE = "not comparable (other tokens differ too, or a width TeX decides)"
# What a gap is measured between: glyphs, not grouping braces or delimiter sizes, and one
# spelling of two that draw the same glyph.
_SIZES = ("big", "Big", "bigg", "Bigg")
_TRANSPARENT = frozenset(
    ["{", "}", r"\left.", r"\right."]
    + [f"\\{size}{side}" for size in _SIZES for side in ("l", "r", "")]
)
_SAME_GLYPH = {r"\ast": "*", r"\rightarrow": r"\to", r"\dag": r"\dagger", r"\bot": r"\perp"}
# How a prediction's spacing commands differ from its gold's.
KINDS = {
    "added": "spacing added (the prediction has every gold space and more)",
    "dropped": "spacing dropped (the prediction has only some of the gold spaces)",
    "changed": "spacing changed (some spaces added, others dropped or written otherwise)",
    "same": "same spacing commands (placed elsewhere, or another difference that only moves "
    "glyphs)",
}


@dataclass
class SpacingErrors:
    """Of `scored` items with an image comparison, those that match once whitespace is
    ignored but not exactly, by kind and by command (items adding or dropping it)."""

    scored: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_width: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "scored": self.scored,
            "spacing_only": self.total,
            "by_kind": dict(self.by_kind),
            "by_width": dict(self.by_width),
            "added": dict(self.added),
            "dropped": dict(self.dropped),
        }


def spacing_counts(tokens: Sequence[str]) -> Counter[str]:
    """How often each spacing command occurs among `tokens`."""
    return Counter(token for token in tokens if token in SPACING_COMMANDS)


def spacing_kind(gold: Counter[str], pred: Counter[str]) -> str:
    """One of `KINDS` for a prediction's spacing commands against its gold's."""
    if gold == pred:
        return "same"
    more = any(pred[c] > gold[c] for c in pred)
    fewer = any(pred[c] < gold[c] for c in gold)
    if more and fewer:
        return "changed"
    return "added" if more else "dropped"


def spacing_gaps(tokens: Sequence[str]) -> tuple[list[str], list[float]] | None:
    """The glyph tokens (not spacing, braces or delimiter sizes, `_glyph` spellings), and the
    width in mu of the spacing before each of them and after the last; None where a width is
    TeX's to decide (`\\hfill`, `\\kern`) or an `\\hspace` length cannot be read."""
    skeleton: list[str] = []
    gaps: list[float] = []
    width, k = 0.0, 0
    while k < len(tokens):
        token = tokens[k]
        if token in WIDTH_MU:
            width, k = width + WIDTH_MU[token], k + 1
        elif token in (r"\hspace", r"\hspace*"):
            length, k = _hspace_mu(tokens, k + 1)
            if length is None:
                return None
            width += length
        elif token in SPACING_COMMANDS:
            return None
        elif token in _TRANSPARENT:
            k += 1
        else:
            skeleton.append(_glyph(token))
            gaps.append(width)
            width, k = 0.0, k + 1
    return skeleton, [*gaps, width]


def _glyph(token: str) -> str:
    """`\\left(` and `\\right\\}` are the glyphs `(` and `\\}` (`\\leftarrow` stays an arrow);
    `\\ast` is `*`."""
    for prefix in (r"\left", r"\right"):
        rest = token[len(prefix) :]
        if token.startswith(prefix) and rest and not rest[0].isalpha():
            return rest
    return _SAME_GLYPH.get(token, token)


def _hspace_mu(tokens: Sequence[str], k: int) -> tuple[float | None, int]:
    """The width of the `{ length }` group at `k` (a star first is skipped), and where it ends."""
    if k < len(tokens) and tokens[k] == "*":
        k += 1
    if k >= len(tokens) or tokens[k] != "{" or "}" not in tokens[k:]:
        return None, k
    end = tokens.index("}", k)
    match = _LENGTH.fullmatch("".join(tokens[k + 1 : end]))
    if match is None:
        return None, end + 1
    return float(match.group(1)) * UNIT_MU[match.group(2)], end + 1


def width_error(gold: Sequence[str], pred: Sequence[str]) -> float | None:
    """How far, in mu, the prediction's widest misjudged gap is from the gold's; None unless
    the two differ only in spacing and every width can be told."""
    ours, theirs = spacing_gaps(pred), spacing_gaps(gold)
    if ours is None or theirs is None or ours[0] != theirs[0]:
        return None
    return max(abs(a - b) for a, b in zip(ours[1], theirs[1], strict=True))


def width_bin(error: float | None) -> str:
    """The `WIDTH_BINS` label of a `width_error` (or `NOT_COMPARABLE`)."""
    if error is None:
        return NOT_COMPARABLE
    return next(label for label, bound in WIDTH_BINS.items() if error < bound)


def spacing_errors(items: Sequence[dict]) -> SpacingErrors:
    """Tally the evaluation records (`gold`, `pred`, `image_match`, `image_match_nows`) that
    match only once whitespace is ignored."""
    errors = SpacingErrors()
    for item in items:
        if item.get("image_match") is None:
            continue
        errors.scored += 1
        if item["image_match"] or not item.get("image_match_nows"):
            continue
        gold_tokens, pred_tokens = item["gold"].split(), (item["pred"] or "").split()
        gold, pred = spacing_counts(gold_tokens), spacing_counts(pred_tokens)
        errors.by_kind[spacing_kind(gold, pred)] += 1
        errors.by_width[width_bin(width_error(gold_tokens, pred_tokens))] += 1
        errors.added.update({c: 1 for c in pred if pred[c] > gold[c]})
        errors.dropped.update({c: 1 for c in gold if pred[c] < gold[c]})
    return errors


def spacing_markdown(errors: SpacingErrors) -> str:
    """The report's section: the kinds, then each command added or dropped."""
    if not errors.scored:
        return "No item has an image comparison."
    share = 100.0 * errors.total / errors.scored
    lines = [
        f"{errors.total} of {errors.scored} items ({share:.2f}%) match once whitespace is "
        "ignored but not exactly.",
        "",
        "| kind | items | % of scored |",
        "| --- | ---: | ---: |",
    ]
    for kind, text in KINDS.items():
        n = errors.by_kind[kind]
        lines.append(f"| {text} | {n} | {100.0 * n / errors.scored:.2f} |")
    lines += ["", "| widest gap off by | items | % of scored |", "| --- | ---: | ---: |"]
    for label in [*WIDTH_BINS, NOT_COMPARABLE]:
        n = errors.by_width[label]
        lines.append(f"| {label} | {n} | {100.0 * n / errors.scored:.2f} |")
    commands = sorted(
        set(errors.added) | set(errors.dropped),
        key=lambda c: -(errors.added[c] + errors.dropped[c]),
    )
    if commands:
        lines += ["", "| command | items adding it | items dropping it |", "| --- | ---: | ---: |"]
        lines += [f"| `{c}` | {errors.added[c]} | {errors.dropped[c]} |" for c in commands]
    return "\n".join(lines)
