"""The captioned CROHME training inks, and their split by writer.

Both handwriting datasets built from the inks (`build_ink`, `build_glyphs`) start here, so they
hold out the same writers: every expression of a seeded set of writers is validation, and no
glyph, drawing or caption of theirs reaches training. Captions equal (exactly or nearly) to a
CROHME 2014 or IM2LATEX-100K test formula are left out of both splits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from im2markup.data.corpus.cleaning import Exclusions
from im2markup.data.corpus.corpora import im2latex_split
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.inkml import InkExpression, load_crohme2014_train_ink


@dataclass(frozen=True)
class LabelledInk:
    """A training ink with its caption: CROHME tokens and the normalized label."""

    ink: InkExpression
    tokens: str
    label: str


def labelled_inks(
    inks: Sequence[InkExpression], captions: dict[str, list[str]], test: Exclusions
) -> tuple[list[LabelledInk], Counter[str]]:
    """The inks with a caption that is no test formula, and why the others were left out."""
    kept, removed = [], Counter[str]()
    for ink in inks:
        tokens = captions.get(ink.id)
        if tokens is None:
            removed["no caption"] += 1
            continue
        try:
            label = " ".join(to_normalized(tokens))
        except ValueError:
            removed["not CROHME tokens"] += 1
            continue
        match = test.match(label)
        if match is not None:
            removed[f"equals {match}"] += 1
            continue
        kept.append(LabelledInk(ink, " ".join(tokens), label))
    return kept, removed


def held_out_writers(items: Sequence[LabelledInk], fraction: float, seed: int) -> set[str]:
    """Writers, in seeded random order, until they hold `fraction` of the expressions."""
    counts = Counter(item.ink.writer for item in items)
    order = sorted(counts)
    np.random.default_rng(seed).shuffle(order)
    held: set[str] = set()
    total = 0
    for writer in order:
        if total >= fraction * len(items):
            break
        held.add(writer)
        total += counts[writer]
    return held


def ink_test_formulas(root: Path) -> dict[str, list[str]]:
    """The test formulas whose captions are left out: the split depends on them."""
    return {
        "crohme2014-test": [
            " ".join(to_normalized(t)) for _, t in read_captions(root / TEST_CAPTIONS)
        ],
        "im2latex-test": im2latex_split("test", root).norm,
    }


@dataclass(frozen=True)
class WriterSplit:
    """The ink dataset's split of the CROHME training inks by writer."""

    train: list[LabelledInk]
    val: list[LabelledInk]
    held: set[str]
    removed: Counter[str]


def writer_split(
    root: Path, val_fraction: float = 0.08, seed: int = 0, limit: int | None = None
) -> WriterSplit:
    """The captioned inks that are no test formula, split by writer."""
    inks = load_crohme2014_train_ink(root)[:limit]
    captions = dict(read_captions(root / TRAIN_CAPTIONS))
    items, removed = labelled_inks(inks, captions, Exclusions(ink_test_formulas(root)))
    held = held_out_writers(items, val_fraction, seed)
    train = [item for item in items if item.ink.writer not in held]
    val = [item for item in items if item.ink.writer in held]
    return WriterSplit(train, val, held, removed)
