"""CROHME's expression recognition rates: exact, and with at most one or two token errors.

Predictions and gold captions are compared as CROHME tokens in canonical form (subscript before
superscript), so `x ^ { 2 } _ { i }` and `x _ { i } ^ { 2 }` count as the same expression. A
model's normalized output is turned into CROHME tokens with `crohme.from_normalized` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from im2markup.data.handwriting.crohme import canonical_crohme
from im2markup.metrics.text import token_edit_distance


@dataclass(frozen=True)
class ExpressionRates:
    """Percentages of expressions within 0, 1 and 2 token edits of the gold caption."""

    exact: float
    within_1: float
    within_2: float
    count: int


def expression_rates(
    predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]
) -> ExpressionRates:
    """CROHME's ExpRate, ≤1 and ≤2 error rates over a corpus (a missing prediction is empty)."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold expressions")
    if not golds:
        raise ValueError("expression rates of an empty corpus are undefined")
    distances = [
        token_edit_distance(canonical_crohme(p), canonical_crohme(g))
        for p, g in zip(predictions, golds, strict=True)
    ]
    n = len(distances)
    return ExpressionRates(
        exact=100.0 * sum(d == 0 for d in distances) / n,
        within_1=100.0 * sum(d <= 1 for d in distances) / n,
        within_2=100.0 * sum(d <= 2 for d in distances) / n,
        count=n,
    )
