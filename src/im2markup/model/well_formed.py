"""Choosing, among a beam's n-best, the most likely hypothesis that TeX can typeset.

A beam's top hypothesis is sometimes one brace, `\\right` or `\\end` away from valid LaTeX:
4.9% of the first bundled model's test predictions (459 of 9,443) failed to render, most of
them for that reason, while a slightly less likely entry of the same beam was well formed.
The checks are the ones that guard the renderer (`data.render.checks.precheck`); no TeX runs.
"""

from __future__ import annotations

import dataclasses

from im2markup.data.render.checks import precheck
from im2markup.data.vocab import Vocab
from im2markup.latex.detokenizer import detokenize
from im2markup.model.base import Hypothesis


def first_well_formed(hyp: Hypothesis, vocab: Vocab) -> Hypothesis:
    """`hyp` when it passes the renderer's checks (or has no n-best), else the most likely
    n-best entry that does, carrying the n-best list; `hyp` when none does."""
    if not hyp.n_best or _typesets(hyp, vocab):
        return hyp
    for candidate in hyp.n_best:
        if _typesets(candidate, vocab):
            return dataclasses.replace(candidate, n_best=hyp.n_best)
    return hyp


def _typesets(hyp: Hypothesis, vocab: Vocab) -> bool:
    return precheck(detokenize(" ".join(vocab.decode(hyp.token_ids)))) is None
