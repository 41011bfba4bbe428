"""Which printed training formulas a handwriting model is pretrained on, and their labels.

Handwriting cannot show spacing commands or font changes (a handwritten `\\mathrm { d }` is a
`d`), so every printed formula is first brought to its *handwriting form*: spacing tokens are
dropped and font commands are unwrapped, with the braces that only scoped them. The image is
rendered from that form, so the label is what the picture shows.

A formula whose handwriting form uses only CROHME symbols (after `crohme.from_normalized`) is
labelled in the normalized form CROHME captions take (`\\le` → `\\leq`, `\\left(` → `(`), so
that pretraining and fine-tuning labels agree; those come first. The rest are ranked by how
many of their tokens CROHME has no symbol for, fewest first, ties in a seeded random order; a
build draws them in that order until it has as many images as it wants.
Measured on the 150,000-formula printed pool: 9,702 formulas use only CROHME symbols as they
are, 20,144 in their handwriting form (18,545 of them within `MAX_TOKENS`); 21,002 more have one
token outside the CROHME set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from im2markup.data.corpus.cleaning import Exclusions, PoolEntry
from im2markup.data.handwriting.crohme import CROHME_TOKENS, from_normalized, to_normalized
from im2markup.data.shards import formula_key
from im2markup.latex import commands as cmd

MAX_TOKENS = 80
"""Longest handwriting form kept (CROHME training captions: 99 at most, 99% within 56)."""

SPACING = frozenset({r"\,", r"\:", r"\;", r"\!", r"\quad", r"\qquad", "~", "\\"})
FONT_COMMANDS = cmd.FONT_COMMANDS | frozenset(cmd.TEXT_COMMANDS)
"""Font commands taking one argument: `\\mathrm { d x }` → `d x`."""
FONT_SWITCHES = frozenset({r"\rm", r"\bf", r"\it", r"\sf", r"\tt", r"\cal", r"\Bbb"})
"""Font switches scoped by a group: `{ \\cal L }` → `L`."""

_CROHME_SET = frozenset(CROHME_TOKENS)


@dataclass
class _Open:
    """A group being read: is its closing brace written, is it an argument, does one follow?"""

    written: bool
    argument: bool
    more: bool


@dataclass(frozen=True)
class Candidate:
    """A printed formula ready to be handwritten: its label and the symbols CROHME lacks."""

    entry: PoolEntry
    label: str
    outside: int


def handwriting_form(tokens: Sequence[str]) -> list[str]:
    """The tokens without spacing commands and font changes (see the module docstring).

    A group that only carried a font change loses its braces unless it is an argument (of a
    script, of a command, after `]`): `x _ \\mathrm { m a x }` → `x _ { m a x }`.
    """
    out: list[str] = []
    groups: list[_Open] = []
    unwrap = False
    expect = 0  # arguments still owed to the last command or script sign
    for token in tokens:
        if token in SPACING:
            continue
        if token in FONT_SWITCHES:
            if out and out[-1] == "{" and groups and not groups[-1].argument:
                out.pop()
                groups[-1].written = False
            continue
        if token in FONT_COMMANDS:
            unwrap = True
            continue
        if token == "{":
            groups.append(_Open(expect > 0 or not unwrap, expect > 0, expect > 1))
            if groups[-1].written:
                out.append(token)
            expect, unwrap = 0, False
            continue
        unwrap = False
        if token == "}" and groups:
            group = groups.pop()
            if group.written:
                out.append(token)
            expect = int(group.more)
            continue
        out.append(token)
        expect = 1 if token in ("_", "^", "]") else cmd.arity(token) or max(expect - 1, 0)
    return out


def candidate(entry: PoolEntry) -> Candidate:
    """The entry's label (CROHME's normalized form when it has one) and its non-CROHME count."""
    tokens = handwriting_form(entry.formula.split())
    crohme = from_normalized(tokens)
    outside = sum(token not in _CROHME_SET for token in crohme)
    label = to_normalized(crohme) if outside == 0 else tokens
    return Candidate(entry, " ".join(label), outside)


def read_pool(path: Path) -> list[PoolEntry]:
    """The printed training pool (`source<TAB>ref<TAB>formula` lines, see `data.build`)."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected source<TAB>ref<TAB>formula")
        entries.append(PoolEntry(source=parts[0], ref=parts[1], formula=parts[2]))
    return entries


def rank(
    pool: Iterable[PoolEntry],
    vocabulary: set[str],
    exclusions: Exclusions,
    seed: int,
) -> tuple[list[Candidate], dict[str, int]]:
    """Distinct formulas to pretrain on, best first, and why the others were left out.

    CROHME-only formulas come first, then the others by how many tokens CROHME lacks; ties in a
    seeded random order. A formula is left out when its handwriting form is empty or longer than
    `MAX_TOKENS`, uses a token outside `vocabulary`, matches an exclusion (the test sets, the
    CROHME validation captions) or repeats a formula already taken.
    """
    kept: list[Candidate] = []
    seen: set[str] = set()
    report: Counter[str] = Counter()
    for entry in pool:
        item = candidate(entry)
        tokens = item.label.split()
        key = formula_key(item.label)
        if not tokens or len(tokens) > MAX_TOKENS:
            report[f"empty or over {MAX_TOKENS} tokens"] += 1
        elif not vocabulary.issuperset(tokens):
            report["token outside the vocabulary"] += 1
        elif (match := exclusions.match(item.label)) is not None:
            report[f"equals {match}"] += 1
        elif key in seen:
            report["repeats a formula"] += 1
        else:
            seen.add(key)
            kept.append(item)
    ties = np.random.default_rng(seed).permutation(len(kept))
    order = sorted(range(len(kept)), key=lambda k: (kept[k].outside, ties[k]))
    report["candidates"] = len(kept)
    report["candidates crohme-only"] = sum(item.outside == 0 for item in kept)
    return [kept[k] for k in order], dict(sorted(report.items()))
