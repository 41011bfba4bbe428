"""LaTeX formulas → images as a web page shows them: KaTeX or MathJax in headless Chromium.

The model is trained on TeX renders, but users mostly meet formulas as screenshots of math
typeset by a browser, at the browser's zoom and in a light or dark theme; this renders the
formulas that way. `render_web` is the entry point; `WebTypesetter` keeps one browser for
several calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from im2markup.data.render.renderer import RenderResult
from im2markup.data.render.web.assets import AssetsMissing, ensure_assets, installed
from im2markup.data.render.web.style import ENGINES, WebStyle
from im2markup.data.render.web.typesetter import BATCH_TIMEOUT_S, BrowserMissing, WebTypesetter

__all__ = [
    "ENGINES",
    "AssetsMissing",
    "BrowserMissing",
    "WebStyle",
    "WebTypesetter",
    "ensure_assets",
    "installed",
    "render_web",
]


def render_web(
    formulas: Sequence[str], style: WebStyle, *, timeout: float = BATCH_TIMEOUT_S
) -> list[RenderResult]:
    """Every formula as `style` shows it; one `RenderResult` per formula, in order."""
    with WebTypesetter() as typesetter:
        return typesetter.render(formulas, style, timeout=timeout)
