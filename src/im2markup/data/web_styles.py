"""Training images of formulas typeset by KaTeX or MathJax, as the reader would see them.

Users mostly meet formulas as screenshots of math a browser typeset, at the browser's zoom and
in a light or dark theme. These styles (`katex`, `mathjax`) screenshot each formula at a zoom
drawn from the range people use and, for some, in the dark theme, then bring the screenshot to
the model's scale exactly as `predict` brings a user's image (`load_user_image`), so that a
model trained on them meets at reading time what it met in training. The engines draw every
spacing command, so these images carry the paper form's label, spaces included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from im2markup.data.images.user_images import ImageInputError, load_user_image
from im2markup.data.render.renderer import RenderResult
from im2markup.data.render.web import ENGINES, WebStyle, WebTypesetter

WEB_STYLES = frozenset(ENGINES)
ZOOMS = (1.0, 1.25, 1.5, 1.75, 2.0)
DARK_SHARE = 0.25


def web_style_of(engine: str, seed: int, index: int) -> WebStyle:
    """The zoom and theme formula `index` is screenshot in: seeded per item, so a formula's
    image does not depend on which others are rendered beside it."""
    rng = np.random.default_rng([seed, index])
    zoom = ZOOMS[int(rng.integers(len(ZOOMS)))]
    return WebStyle(engine, zoom, dark=bool(rng.random() < DARK_SHARE))  # type: ignore[arg-type]


def render_web_training(formulas: Sequence[str], engine: str, seed: int = 0) -> list[RenderResult]:
    """One `RenderResult` per formula, in order: the screenshot at the model's scale, or None
    and why (the engine refused it, or the screenshot could not be read)."""
    if engine not in WEB_STYLES:
        raise ValueError(f"unknown web style {engine!r}; known: {', '.join(sorted(WEB_STYLES))}")
    groups: dict[WebStyle, list[int]] = defaultdict(list)
    for k in range(len(formulas)):
        groups[web_style_of(engine, seed, k)].append(k)
    results: list[RenderResult | None] = [None] * len(formulas)
    with WebTypesetter() as typesetter:
        for style, indices in groups.items():
            shots = typesetter.render([formulas[k] for k in indices], style)
            for k, shot in zip(indices, shots, strict=True):
                results[k] = _at_model_scale(k, shot)
    return [result for result in results if result is not None]


def _at_model_scale(index: int, shot: RenderResult) -> RenderResult:
    if shot.image is None:
        return RenderResult(index, None, shot.error)
    try:
        return RenderResult(index, load_user_image(shot.image), None)
    except ImageInputError as error:
        return RenderResult(index, None, f"screenshot unreadable: {error}")
