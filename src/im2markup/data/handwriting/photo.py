"""Handwriting on paper as a phone camera or a scanner sees it.

A clean drawing (dark ink on white) becomes ink on a sheet of paper: the paper has a tint and is
lit unevenly (a gradient and a vignette), may be ruled or squared, the ink is a pen's (dark,
sometimes blue) or a pencil's (grey, grainy), and the camera adds blur, noise and JPEG. The
same function makes the training drawings of the handwriting model and the robustness
conditions it is measured on, so what is measured is what was trained for.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

Paper = Literal["plain", "ruled", "squared"]
Ink = Literal["pen", "pencil"]
PAPERS: tuple[Paper, ...] = ("plain", "ruled", "squared")


@dataclass(frozen=True)
class PhotoOptions:
    """What the sheet and the camera are like; lengths in pixels of the input drawing.

    `line_spacing` is the distance between rules (ruled) or grid lines (squared) as a multiple
    of `symbol_height`, the drawing's median symbol height.
    """

    paper: Paper = "plain"
    ink: Ink = "pen"
    symbol_height: float = 27.0
    line_spacing: tuple[float, float] = (1.3, 2.2)
    light_gradient: float = 0.25
    vignette: float = 0.3
    blur: tuple[float, float] = (0.3, 1.2)
    noise: tuple[float, float] = (2.0, 8.0)
    jpeg_quality: tuple[int, int] = (45, 90)
    margin: tuple[int, int] = (10, 60)


def photograph(
    drawing: Image.Image, rng: np.random.Generator, options: PhotoOptions
) -> Image.Image:
    """An RGB photo of `drawing` (dark ink on white) on paper, seeded by `rng`."""
    coverage = 1.0 - np.asarray(drawing.convert("L"), dtype=np.float32) / 255.0
    pad = int(rng.integers(options.margin[0], options.margin[1] + 1))
    coverage = np.pad(coverage, pad)
    height, width = coverage.shape
    paper = _sheet(height, width, rng, options)
    if options.ink == "pencil":
        grain = ndimage.gaussian_filter(rng.random((height, width)).astype(np.float32), 0.7)
        coverage = coverage * np.clip(0.75 + 3.0 * (grain - 0.5), 0.3, 1.0)
        colour = np.full(3, rng.uniform(60, 120), dtype=np.float32)
    else:
        dark = rng.uniform(10, 60)
        blue = rng.uniform(0, 60) if rng.random() < 0.4 else 0.0
        colour = np.array([dark, dark, dark + blue], dtype=np.float32)
    alpha = np.clip(coverage, 0.0, 1.0)[..., None]
    photo = paper * (1.0 - alpha) + colour * alpha
    photo = ndimage.gaussian_filter(photo, (rng.uniform(*options.blur),) * 2 + (0,))
    photo = photo + rng.normal(0.0, rng.uniform(*options.noise), photo.shape)
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    quality = int(rng.integers(options.jpeg_quality[0], options.jpeg_quality[1] + 1))
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _sheet(height: int, width: int, rng: np.random.Generator, options: PhotoOptions) -> np.ndarray:
    """The paper, unevenly lit, with its rules or grid: `(height, width, 3)` float32."""
    tint = rng.uniform(205, 250) + rng.uniform(-6, 6, size=3)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xs / max(width - 1, 1) - 0.5, ys / max(height - 1, 1) - 0.5
    gx, gy = rng.uniform(-options.light_gradient, options.light_gradient, size=2)
    cx, cy = rng.uniform(-0.3, 0.3, size=2)
    light = (
        1.0 + gx * u + gy * v - rng.uniform(0, options.vignette) * ((u - cx) ** 2 + (v - cy) ** 2)
    )
    paper = tint[None, None, :] * np.clip(light, 0.4, 1.2)[..., None]
    if options.paper == "plain":
        return paper.astype(np.float32)
    spacing = rng.uniform(*options.line_spacing) * options.symbol_height
    line_colour = np.array(
        [rng.uniform(120, 200), rng.uniform(150, 210), rng.uniform(190, 240)], dtype=np.float32
    )
    strength = rng.uniform(0.35, 0.8)
    lines = _lines(ys, spacing, rng)
    if options.paper == "squared":
        lines = np.maximum(lines, _lines(xs, spacing * rng.uniform(0.6, 0.8), rng))
    alpha = (lines * strength)[..., None]
    return (
        paper * (1.0 - alpha) + line_colour * np.clip(light, 0.4, 1.2)[..., None] * alpha
    ).astype(np.float32)


def _lines(position: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased lines about 1.5 px wide every `spacing` px along `position` (0–1 each)."""
    offset = rng.uniform(0, spacing)
    distance = np.abs(((position - offset) % spacing) - spacing / 2) - (spacing / 2)
    return np.clip(1.6 - np.abs(distance), 0.0, 1.0)


def random_options(rng: np.random.Generator, symbol_height: float = 27.0) -> PhotoOptions:
    """Paper and ink drawn at random (plain half the time, pencil a quarter)."""
    paper = PAPERS[int(rng.choice(len(PAPERS), p=[0.5, 0.3, 0.2]))]
    ink: Ink = "pencil" if rng.random() < 0.25 else "pen"
    return PhotoOptions(paper=paper, ink=ink, symbol_height=symbol_height)
