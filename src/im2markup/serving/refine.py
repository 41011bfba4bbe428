"""Render-and-compare refinement: read, then correct the reading by looking at it.

Reranking by render (`rerank`) can only choose among the beam's hypotheses. Most readings that
are still wrong are one small edit away from right, and most of those edits are spacing (the
paper's match −ws is above its match for that reason) or a look-alike spelling. Refinement
renders the beam's hypotheses and the close variants of the best of them
(`latex.variants.close_variants`), keeps the one whose render is closest to the input, and
repeats from there for up to `ROUNDS` rounds while the picture keeps getting closer, and past a
match until it is identical. A variant keeps the model score of the hypothesis it was made from.

It pays only where a render can reproduce the input (images typeset like our renders); its
cost is one batched LaTeX run per round and style for up to a few hundred variants, measured
in `benchmarks/README.md` ("Render-and-compare refinement").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from im2markup.data.vocab import Vocab
from im2markup.latex.detokenizer import detokenize
from im2markup.latex.variants import close_variants
from im2markup.model.base import Hypothesis
from im2markup.model.deadline import check_deadline
from im2markup.serving.limits import Limits
from im2markup.serving.rerank import STYLES, Candidate, score_candidates

ROUNDS = 2


def refine(
    pixels: np.ndarray,
    hypotheses: Sequence[Hypothesis],
    vocab: Vocab,
    styles: Sequence[str] | None = None,
    limits: Limits | None = None,
    deadline: float | None = None,
) -> tuple[Hypothesis, bool]:
    """The reading whose render best matches `pixels` among the hypotheses and the close
    variants of the best so far, and whether that render matches.

    Before a match, a variant replaces the best when its render is strictly closer. After a
    match, only a variant whose render is identical to the input does: the match tolerates
    runs of up to 4 columns, which at the model's scale hides a thin space dropped or added
    that the evaluation (rendering gold and reading at a larger scale) sees, while a smaller
    but nonzero distance is as often the pixel grid falling differently as a better reading.
    Variants are rendered only in the style whose render of the best reading came closest."""
    styles = styles or STYLES
    readings = [vocab.decode(h.token_ids) for h in hypotheses]
    candidates = _scored(pixels, readings, styles, limits)
    best = min(candidates, key=lambda c: c.sort_key)
    chosen = hypotheses[best.rank]
    for _ in range(ROUNDS):
        if _identical(best):
            break
        check_deadline(deadline)
        variants = close_variants(vocab.decode(chosen.token_ids))
        if not variants:
            break
        scored = _scored(pixels, variants, [best.style] if best.style else styles, limits)
        closest = min(scored, key=lambda c: c.sort_key)
        if not _improves(closest, best):
            break
        best = closest
        ids = vocab.encode(variants[closest.rank], add_bos_eos=False)
        chosen = Hypothesis(token_ids=ids, score=chosen.score)
    return chosen, _matches(best)


def _scored(
    pixels: np.ndarray,
    readings: Sequence[Sequence[str]],
    styles: Sequence[str],
    limits: Limits | None,
) -> list[Candidate]:
    latex = [detokenize(" ".join(tokens)) for tokens in readings]
    return score_candidates(pixels, latex, styles, limits)


def _improves(variant: Candidate, best: Candidate) -> bool:
    if _matches(best):
        return _identical(variant)
    return variant.sort_key[:2] < best.sort_key[:2]


def _identical(candidate: Candidate) -> bool:
    return candidate.comparison is not None and candidate.comparison.distance == 0


def _matches(candidate: Candidate) -> bool:
    return candidate.comparison is not None and candidate.comparison.match
