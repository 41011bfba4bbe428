"""Variants of the real CROHME training captions: same layout, symbols swapped within class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2markup.data.handwriting.caption_variants import (
    FUNCTIONS,
    SymbolPrior,
    caption_variant,
    caption_variants,
    symbol_class,
)
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TRAIN_CAPTIONS, read_captions

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def captions(shared_dir: Path) -> list[str]:
    labels = {" ".join(to_normalized(t)) for _, t in read_captions(shared_dir / TRAIN_CAPTIONS)}
    return sorted(labels)[:600]


def _shape(formula: str) -> list[str]:
    """The formula with every replaceable symbol reduced to its class."""
    return [symbol_class(t) or t for t in formula.split()]


def test_variants_keep_the_layout_and_are_new_formulas(captions: list[str]) -> None:
    variants = caption_variants(captions, per_caption=3, seed=0)
    assert len(variants) > 2 * len(captions)
    labels = [v for _, v in variants]
    assert len(set(labels)) == len(labels) and not set(labels) & set(captions)
    for index, variant in variants:
        original = captions[index]
        assert len(variant.split()) == len(original.split())
        same_layout = _shape(variant) == _shape(original)
        renamed = "\\operatorname" in original
        assert same_layout or renamed, (original, variant)


def test_a_letter_is_replaced_by_the_same_letter_throughout() -> None:
    prior = SymbolPrior(["x ^ { 2 } + x y"])
    rng = np.random.default_rng(3)
    for _ in range(50):
        tokens = caption_variant("x ^ { 2 } + x = x", prior, rng).split()
        assert tokens[0] == tokens[6] == tokens[8]


def test_function_names_stay_whole_and_known() -> None:
    prior = SymbolPrior(["\\operatorname { s i n } x"])
    rng = np.random.default_rng(0)
    names = set()
    for _ in range(40):
        tokens = caption_variant(
            "\\operatorname { s i n } ( x ) + \\operatorname { l o g } y", prior, rng
        ).split()
        names.add(" ".join(tokens[2:5]))
        assert tokens[11:15] == ["{", "l", "o", "g"]
    assert names == set(FUNCTIONS)


def test_variants_are_reproducible_and_depend_on_the_seed(captions: list[str]) -> None:
    first = caption_variants(captions[:50], 2, seed=1)
    assert first == caption_variants(captions[:50], 2, seed=1)
    assert first != caption_variants(captions[:50], 2, seed=2)
