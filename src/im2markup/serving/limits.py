"""Bounds on what one request or one image may cost, shared by the Python API, CLI and server.

Untrusted images are the normal case: a PNG header can promise 20000×20000 pixels in a few
hundred bytes, so sizes are checked before any pixel is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-image and per-request bounds.

    `max_bytes` and `max_pixels` are checked while an image is loaded. `max_formula_glyphs`
    bounds what the model is asked to read, as (width, height) in glyph heights: twice the
    largest IM2LATEX-100K test formula (55 × 15 glyphs at the training scale), so a page of
    text or several formulas is refused in a fraction of a second instead of costing minutes
    of decoding. The server adds a request timeout and a bounded queue on top of them.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 25_000_000
    max_formula_glyphs: tuple[float, float] = (110.0, 30.0)
    render_timeout_s: float = 20.0


@dataclass(frozen=True)
class ServerLimits:
    """What keeps a busy server responsive: each upload is first read and screened
    (`screeners` at a time, `screen_queue_size` more waiting, smallest first; `intake`), then
    `workers` decode at once and `queue_size` more wait their turn; everything beyond that is
    refused (503) rather than piling up in memory. A request's headers, and then its body,
    must each arrive within `read_timeout_s`; its prediction (waiting included) is stopped and
    answered 504 after `request_timeout_s`."""

    workers: int = 1
    queue_size: int = 8
    screeners: int = 1
    screen_queue_size: int = 32
    request_timeout_s: float = 60.0
    read_timeout_s: float = 20.0
    max_request_bytes: int = 12 * 1024 * 1024
