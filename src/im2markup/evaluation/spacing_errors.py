"""Items read right except for spacing, and which spacing commands were added or dropped.

The paper's "match −ws" ignores blank columns when it compares images; an item that matches
that way but not exactly was rendered with other horizontal spaces than its gold. The gap
between the two matches is the share of such items, and to close it one must know what the
model gets wrong: spacing it adds, spacing it drops, or one space written as another. This
compares the spacing commands of the gold and the prediction of each such item.
"""

from __future__ import annotations

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
        gold = spacing_counts(item["gold"].split())
        pred = spacing_counts((item["pred"] or "").split())
        errors.by_kind[spacing_kind(gold, pred)] += 1
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
    commands = sorted(
        set(errors.added) | set(errors.dropped),
        key=lambda c: -(errors.added[c] + errors.dropped[c]),
    )
    if commands:
        lines += ["", "| command | items adding it | items dropping it |", "| --- | ---: | ---: |"]
        lines += [f"| `{c}` | {errors.added[c]} | {errors.dropped[c]} |" for c in commands]
    return "\n".join(lines)
