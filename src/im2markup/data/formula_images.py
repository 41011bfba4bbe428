"""Formulas → images in any style, and rendered formulas on disk.

The TeX styles (`paper`, `shared`, any registered one) are drawn by `render.render_tex`; the
`handwritten` style by `handwriting.render.render_handwritten`, which typesets through the TeX
renderer itself; the web styles (`katex`, `mathjax`) by `web_styles.render_web_training`, in
a browser. Choosing between them here, above all three, keeps the TeX renderer free of any
knowledge of handwriting or browsers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from im2markup.data.render import RenderResult, render_tex
from im2markup.data.render.renderer import DEFAULT_DPI
from im2markup.data.web_styles import WEB_STYLES, render_web_training

HANDWRITTEN = "handwritten"
"""Not a template: synthetic handwriting typesets with a font style, then distorts the strokes."""
ERRORS_FILE = "errors.tsv"


def render_formulas(
    formulas: Sequence[str], style: str = "paper", processed: bool = True, **options: Any
) -> list[RenderResult]:
    """Render every formula in `style`; one `RenderResult` per input, in order (see
    `render_tex` for `processed` and the `options`).

    The `handwritten` style hands off to `render_handwritten` (seed 0): its pen strokes and
    scale are its own, so it refuses `composited` and a `dpi` of its own. So does a web style,
    which screenshots in a browser (seed 0 for the zooms and themes) at the model's scale; it
    has no use for the TeX renderer's workers, cache or timeout either.
    """
    if style in WEB_STYLES:
        if not processed or options.get("composited") or "dpi" in options:
            raise ValueError(f"the {style} style screenshots at the model's scale, no TeX options")
        return render_web_training(formulas, style)
    if style != HANDWRITTEN:
        return render_tex(formulas, style, processed, **options)
    if options.pop("composited", False) or options.pop("dpi", DEFAULT_DPI) != DEFAULT_DPI:
        raise ValueError("the handwritten style draws its own strokes at its own scale")
    # Imported here: drawing pen strokes needs the optional `handwriting` extra (scikit-image),
    # which the TeX styles do not.
    from im2markup.data.handwriting.render import render_handwritten

    return render_handwritten(formulas, processed, **options)


def write_results(results: Iterable[RenderResult], out_dir: Path) -> tuple[int, int]:
    """Write `out_dir/<index>.png` and `out_dir/errors.tsv` (`index<TAB>reason` per failure).

    Returns (images written, failures). `errors.tsv` is always written, empty when nothing
    failed, so a stale one from an earlier run never survives.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = failed = 0
    with open(out_dir / ERRORS_FILE, "w", encoding="utf-8") as errors:
        for result in results:
            if result.image is not None:
                result.image.save(out_dir / f"{result.index}.png")
                written += 1
            else:
                reason = " ".join((result.error or "unknown error").split())
                errors.write(f"{result.index}\t{reason}\n")
                failed += 1
    return written, failed


@dataclass(frozen=True)
class RenderSummary:
    total: int
    written: int
    failed: int


def render_file(formulas_path: Path, out_dir: Path, **options: object) -> RenderSummary:
    """Render line k (from 0) of a text file to `out_dir/k.png`; `options` go to `render_formulas`.

    Raises `OSError` / `UnicodeDecodeError` when the file cannot be read as UTF-8.
    """
    lines = Path(formulas_path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    written, failed = write_results(render_formulas(lines, **options), out_dir)
    return RenderSummary(len(lines), written, failed)
