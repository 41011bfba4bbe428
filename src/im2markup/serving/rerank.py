"""Render-verified reranking: trust the hypothesis whose rendering looks like the input.

The beam's n-best hypotheses often differ in ways the model cannot weigh but a picture can
(a missing brace, a subscript on the wrong symbol). Each is rendered with the project's
renderer and compared with the input by the paper's image match (`metrics.image_match`), so
"matches" here means what exact match means in the evaluation.

The input's rendering style is unknown (a page typeset at 12 pt, a 10 pt standalone render, a
screenshot), so every hypothesis is rendered in each of `STYLES` and keeps its closest render.
Rendering is batched: one LaTeX run per style for all hypotheses, the styles side by side.
A missing LaTeX installation raises `RenderError` (a set-up problem, not the image's fault).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.data.render import RenderError
from im2markup.data.vocab import Vocab
from im2markup.latex.detokenizer import detokenize
from im2markup.metrics.image_match import ImageComparison, compare_images
from im2markup.model.base import Hypothesis
from im2markup.serving.limits import Limits

STYLES: tuple[str, ...] = ("shared", "paper")
DISPLAY_STYLE = "paper"


def _badness(comparison: ImageComparison | None) -> tuple[bool, float]:
    """Order of comparisons: matches first, then the smaller relative column distance."""
    if comparison is None:
        return (True, float("inf"))
    return (not comparison.match, comparison.distance / max(comparison.length, 1))


@dataclass(frozen=True)
class Candidate:
    """One hypothesis with its best comparison over the styles and the style that gave it
    (`None` for both: no style rendered)."""

    rank: int
    latex: str
    comparison: ImageComparison | None
    style: str | None

    @property
    def sort_key(self) -> tuple[bool, float, int]:
        """The closest render first; among equals, the beam's order."""
        return (*_badness(self.comparison), self.rank)


def score_candidates(
    pixels: np.ndarray,
    latex: Sequence[str],
    styles: Sequence[str] = STYLES,
    limits: Limits | None = None,
) -> list[Candidate]:
    """Render every LaTeX string in every style (the styles at once, each a LaTeX run of its
    own) and keep, per string, the render closest to `pixels`."""
    limits = limits or Limits()

    def compare_style(style: str) -> list[ImageComparison | None]:
        renders = render_formulas(
            list(latex), style=style, processed=True, workers=1, timeout=limits.render_timeout_s
        )
        return [None if r.image is None else compare_images(pixels, r.image) for r in renders]

    with ThreadPoolExecutor(max_workers=len(styles)) as pool:
        per_style = list(pool.map(compare_style, styles))
    candidates = []
    for rank, text in enumerate(latex):
        by_style = zip((comparisons[rank] for comparisons in per_style), styles, strict=True)
        comparison, style = min(by_style, key=lambda option: _badness(option[0]))
        candidates.append(Candidate(rank, text, comparison, style if comparison else None))
    return candidates


def rerank(
    pixels: np.ndarray,
    hypotheses: Sequence[Hypothesis],
    vocab: Vocab,
    styles: Sequence[str] | None = None,
    limits: Limits | None = None,
) -> tuple[Hypothesis, bool]:
    """The hypothesis whose render best matches `pixels`, and whether that render matches."""
    latex = [detokenize(" ".join(vocab.decode(h.token_ids))) for h in hypotheses]
    candidates = score_candidates(pixels, latex, styles or STYLES, limits)
    chosen = min(candidates, key=lambda c: c.sort_key)
    matched = chosen.comparison is not None and chosen.comparison.match
    return hypotheses[chosen.rank], matched


def render_prediction(
    latex: str, limits: Limits | None = None
) -> tuple[Image.Image | None, str | None]:
    """A render of `latex` to show next to the input: the image, or `None` and why not."""
    limits = limits or Limits()
    try:
        result = render_formulas(
            [latex], style=DISPLAY_STYLE, processed=True, timeout=limits.render_timeout_s
        )[0]
    except RenderError as err:
        return None, str(err)
    return result.image, result.error
