"""`render_handwritten`: formulas → images that look like the CROHME bitmaps, reproducibly.

Each formula gets its own random generator, seeded by `(seed, index)`: it picks the formula's
fonts (the TeX source then says which, so the main renderer's cache and batching stay valid)
and then drives the distortions of its image. Typesetting goes through `render_tex` with
an xelatex style, so batching, failure isolation, timeouts and the cache are the main
renderer's; the handwriting is applied to each typeset page afterwards.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

from im2markup.data.handwriting.distort import RASTER_DPI, Distortion, handwrite
from im2markup.data.handwriting.fonts import available_fonts
from im2markup.data.handwriting.template import COMPILER, choose_fonts, hand_switch, preamble
from im2markup.data.images.preprocess import process_rendered
from im2markup.data.render import RenderError, RenderResult, Style, register_style, render_tex

TYPESET_STYLE = "handwritten-typeset"


@functools.cache
def typeset_style() -> Style:
    """The xelatex style that sets formulas in the installed handwriting fonts (registered once)."""
    head = preamble(available_fonts())
    return register_style(
        Style(name=TYPESET_STYLE, preamble=head, open="\\[", close="\\]", engine=COMPILER)
    )


def render_handwritten(
    formulas: Sequence[str],
    processed: bool = True,
    *,
    seed: int = 0,
    distortion: Distortion | None = None,
    **render_options: Any,
) -> list[RenderResult]:
    """One `RenderResult` per formula, in order: dark ink on white, or the reason it failed.

    `processed` images are cropped, padded 8 px and downsampled ×2 like every model input;
    otherwise they stay at the CROHME bitmaps' raw scale. The same `seed` gives the same images
    for the same formulas at the same positions. `render_options` go to `render_tex`
    (`workers`, `timeout`, `cache_dir`, `progress`, `batch_size`).
    """
    if shutil.which(COMPILER) is None:
        raise RenderError(f"handwritten rendering needs {COMPILER}, not found on PATH")
    try:
        fonts = available_fonts()
    except RuntimeError as error:
        raise RenderError(str(error)) from error
    style = typeset_style()
    generators = [np.random.default_rng([seed, index]) for index in range(len(formulas))]
    switches = [hand_switch(choose_fonts(rng, fonts)) for rng in generators]
    typeset = render_tex(
        formulas,
        style.name,
        processed=False,
        dpi=RASTER_DPI,
        composited=True,
        prefixes=switches,
        **render_options,
    )
    results = []
    for result, rng in zip(typeset, generators, strict=True):
        if result.image is None:
            results.append(result)
            continue
        try:
            image = handwrite(result.image, rng, distortion)
        except ValueError as error:
            results.append(RenderResult(result.index, None, f"handwriting failed: {error}"))
            continue
        results.append(
            RenderResult(result.index, process_rendered(image) if processed else image, None)
        )
    return results
