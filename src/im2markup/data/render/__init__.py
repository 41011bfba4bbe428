"""LaTeX formulas → images through TeX: templates, batched runs, Ghostscript rasterization.

`render_tex` is the entry point for the TeX styles; `data.formula_images.render_formulas`
picks the renderer of any style (these or synthetic handwriting) above this package.
"""

from im2markup.data.render.compile import RenderError
from im2markup.data.render.renderer import RenderResult, render_tex
from im2markup.data.render.spacing import strip_spacing
from im2markup.data.render.templates import STYLES, Style, get_style, register_style

__all__ = [
    "STYLES",
    "RenderError",
    "RenderResult",
    "Style",
    "get_style",
    "register_style",
    "render_tex",
    "strip_spacing",
]
