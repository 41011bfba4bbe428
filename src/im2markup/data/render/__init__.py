"""LaTeX formulas → images: templates, batched pdflatex runs, Ghostscript rasterization.

`render_formulas` is the entry point; `write_results` stores its output, `render_file` does
both for a file of formulas (the CLI).
"""

from im2markup.data.render.compile import RenderError
from im2markup.data.render.output import RenderSummary, render_file, write_results
from im2markup.data.render.renderer import RenderResult, render_formulas
from im2markup.data.render.spacing import strip_spacing
from im2markup.data.render.templates import STYLES, Style, get_style, register_style

__all__ = [
    "STYLES",
    "RenderError",
    "RenderResult",
    "RenderSummary",
    "Style",
    "get_style",
    "register_style",
    "render_file",
    "render_formulas",
    "strip_spacing",
    "write_results",
]
