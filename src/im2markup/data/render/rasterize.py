"""Chosen pages of a batch PDF → grayscale arrays, with one Ghostscript call.

Ghostscript renders anti-aliased gray on white (`pgmraw`, `-dTextAlphaBits=4
-dGraphicsAlphaBits=4`), the shapes its `pngalpha` device writes with an alpha channel. The
shared images were made by reading such a PNG as gray while ignoring its alpha: every pixel a
glyph touches at all becomes ink. `drop_alpha` gives exactly that from the gray page (checked
pixel for pixel against `pngalpha` + Pillow's `convert("L")`), so one rendering serves both
the bold and the thin (composited) strokes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from im2markup.data.render.compile import run_bounded

_PGM_HEADER = re.compile(rb"P5\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s")


class RasterizeError(RuntimeError):
    """Ghostscript failed or wrote something other than the pages asked for."""


def rasterize(pdf: Path, pages: Sequence[int], dpi: int, timeout: float) -> list[np.ndarray]:
    """Pages `pages` (1-based, ascending) of `pdf` as `uint8` arrays, anti-aliased, white = 255.

    `timeout` bounds the whole Ghostscript run.
    """
    if not pages:
        return []
    output = pdf.with_suffix(".pgm")
    command = [
        "gs",
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=pgmraw",
        f"-r{dpi}",
        "-dTextAlphaBits=4",
        "-dGraphicsAlphaBits=4",
        f"-sPageList={page_list(pages)}",
        f"-sOutputFile={output.name}",
        pdf.name,
    ]
    run = run_bounded(command, pdf.parent, timeout)
    if run.timed_out:
        raise RasterizeError(f"Ghostscript did not finish within {timeout:.1f} s")
    if run.returncode != 0 or not output.is_file():
        message = " ".join(run.stderr.decode("utf-8", errors="replace").split())[-200:]
        raise RasterizeError(f"Ghostscript failed (exit {run.returncode}): {message}")
    images = read_pgm_stream(output.read_bytes())
    if len(images) != len(pages):
        raise RasterizeError(f"Ghostscript wrote {len(images)} pages instead of {len(pages)}")
    return images


def page_list(pages: Sequence[int]) -> str:
    """Ghostscript's `PageList` syntax with runs collapsed: [1, 2, 3, 5] → "1-3,5"."""
    parts: list[str] = []
    start = previous = pages[0]
    for page in [*pages[1:], None]:
        if page is not None and page == previous + 1:
            previous = page
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if page is not None:
            start = previous = page
    return ",".join(parts)


def read_pgm_stream(data: bytes) -> list[np.ndarray]:
    """All images of a file of concatenated binary PGMs (8-bit), in order."""
    images = []
    position = 0
    while position < len(data):
        header = _PGM_HEADER.match(data, position)
        if header is None:
            raise RasterizeError(f"unreadable PGM data at byte {position}")
        width, height, maxval = (int(v) for v in header.groups())
        if maxval != 255:
            raise RasterizeError(f"expected 8-bit PGM pages, got maxval {maxval}")
        start = header.end()
        end = start + width * height
        if end > len(data):
            raise RasterizeError("truncated PGM page")
        images.append(np.frombuffer(data, np.uint8, width * height, start).reshape(height, width))
        position = end
    return images


def drop_alpha(page: np.ndarray) -> np.ndarray:
    """Every pixel that is not pure white becomes black: the bold strokes of the shared images."""
    return np.where(page < 255, 0, 255).astype(np.uint8)
