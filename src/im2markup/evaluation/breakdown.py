"""Scores broken down by formula length and by structure, to see where a model fails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

LENGTH_BINS = ((1, 25), (26, 50), (51, 75), (76, 100), (101, 150), (151, None))

ACCENTS = frozenset(
    [
        r"\hat",
        r"\bar",
        r"\tilde",
        r"\vec",
        r"\dot",
        r"\ddot",
        r"\check",
        r"\breve",
        r"\acute",
        r"\grave",
        r"\widehat",
        r"\widetilde",
        r"\overline",
        r"\underline",
        r"\overrightarrow",
        r"\overleftarrow",
    ]
)
ARRAYS = frozenset(
    [r"array", r"matrix", r"pmatrix", r"bmatrix", r"vmatrix", r"Vmatrix", r"smallmatrix", r"cases"]
)

STRUCTURES: dict[str, Callable[[Sequence[str]], bool]] = {
    "fraction": lambda t: any(tok in (r"\frac", r"\dfrac", r"\tfrac", r"\over") for tok in t),
    "array": lambda t: any(tok in ARRAYS for tok in t),
    "\\left…\\right": lambda t: any(tok.startswith(r"\left") for tok in t),
    "accent": lambda t: any(tok in ACCENTS for tok in t),
}


@dataclass(frozen=True)
class GroupScore:
    """Scores of one group of items, in percent (`image_match` None without image metrics)."""

    group: str
    n: int
    token_match: float
    edit_distance: float
    image_match: float | None


def length_label(n_tokens: int) -> str:
    for low, high in LENGTH_BINS:
        if high is None or n_tokens <= high:
            return f"{low}–{high} tokens" if high is not None else f"> {low - 1} tokens"
    raise AssertionError("the last bin is open")


def breakdown(items: Sequence[dict]) -> dict[str, list[GroupScore]]:
    """Group scores by gold length and by structure, from the per-item records of an evaluation.

    Each record needs `gold` (token string), `token_match`, `edit`, `max_len` and `image_match`
    (None when the item has no image comparison).
    """
    by_length: dict[str, list[dict]] = {}
    for item in items:
        by_length.setdefault(length_label(len(item["gold"].split())), []).append(item)
    order = [length_label(low) for low, _ in LENGTH_BINS]
    lengths = [_score(label, by_length[label]) for label in order if label in by_length]
    kinds = [
        {name for name, test in STRUCTURES.items() if test(item["gold"].split())} for item in items
    ]
    structures = []
    for name in [*STRUCTURES, "none of these"]:
        members = [
            item
            for item, found in zip(items, kinds, strict=True)
            if name in found or (name == "none of these" and not found)
        ]
        if members:
            structures.append(_score(name, members))
    return {"length": lengths, "structure": structures}


def _score(group: str, items: Sequence[dict]) -> GroupScore:
    longest = sum(item["max_len"] for item in items)
    distance = sum(item["edit"] for item in items)
    with_image = [item["image_match"] for item in items if item["image_match"] is not None]
    return GroupScore(
        group=group,
        n=len(items),
        token_match=100.0 * sum(item["token_match"] for item in items) / len(items),
        edit_distance=100.0 * (1.0 - distance / longest) if longest else 100.0,
        image_match=100.0 * sum(with_image) / len(with_image) if with_image else None,
    )
