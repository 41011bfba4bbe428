"""How a user's picture of a formula differs from a clean render, one transform each.

Every transform takes a clean grayscale render and a seeded random generator and returns what
a user might upload instead: rescaled, compressed, blurred, noisy, inverted, coloured, with wide
margins, or as a screenshot of a whole page (and `text_page`, a page of text sent instead of
a formula). They feed the robustness suite, which reads the
results through the same user-image path as `im2markup predict`.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from im2markup.data.handwriting.photo import Ink, Paper, PhotoOptions, photograph

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def text_page(lines: list[str], size: int = 1000) -> bytes:
    """A `size`×`size` PNG of a page of text, `lines` typed in PIL's default font: what a user
    sends by mistake instead of one formula, and what must be refused quickly."""
    page = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default()
    for row, y in enumerate(range(5, size - 12, 14)):
        draw.text((5, y), lines[row % len(lines)][: size // 6], fill=0, font=font)
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def rescale(factor: float) -> Transform:
    """A screenshot at another zoom: the image resized by `factor`."""

    def apply(image: Image.Image, _: np.random.Generator) -> Image.Image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        return image.resize(size, Image.Resampling.LANCZOS)

    return apply


def jpeg(quality: int) -> Transform:
    """A photo-sharing round trip: JPEG compression at `quality`, decoded as RGB."""

    def apply(image: Image.Image, _: np.random.Generator) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return apply


def blur(radius: float) -> Transform:
    """An out-of-focus scan: Gaussian blur of `radius` pixels."""

    def apply(image: Image.Image, _: np.random.Generator) -> Image.Image:
        return image.filter(ImageFilter.GaussianBlur(radius))

    return apply


def noise(sigma: float) -> Transform:
    """Sensor or scanner noise: Gaussian noise of `sigma` grey levels."""

    def apply(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
        noisy = pixels + rng.normal(0.0, sigma, pixels.shape)
        return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))

    return apply


def light_on_dark(image: Image.Image, _: np.random.Generator) -> Image.Image:
    """White text on a dark grey page, as a dark-mode screenshot."""
    inverted = ImageOps.invert(image.convert("L"))
    return Image.fromarray((np.asarray(inverted, dtype=np.float32) * 0.85 + 30).astype(np.uint8))


def coloured(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dark coloured text on a light coloured background, in RGB."""
    ink = rng.integers(0, 90, size=3).astype(np.float32)
    paper = rng.integers(200, 256, size=3).astype(np.float32)
    weight = np.asarray(image.convert("L"), dtype=np.float32)[..., None] / 255.0
    return Image.fromarray((ink + (paper - ink) * weight).astype(np.uint8))


def margins(pixels: int) -> Transform:
    """A loosely cropped capture: `pixels` of white paper added on every side."""

    def apply(image: Image.Image, _: np.random.Generator) -> Image.Image:
        return ImageOps.expand(image.convert("L"), border=pixels, fill=255)

    return apply


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The formula somewhere on a 1280×800 page under a grey title bar."""
    width, height = max(1280, image.width + 40), max(800, image.height + 120)
    page = Image.new("RGB", (width, height), (252, 252, 250))
    page.paste((222, 224, 228), (0, 0, width, 48))
    x = int(rng.integers(20, width - image.width - 19))
    y = int(rng.integers(80, height - image.height - 19))
    page.paste(image.convert("RGB"), (x, y))
    return page


def on_paper(paper: Paper, ink: Ink) -> Transform:
    """Handwriting photographed on a sheet (`photo.photograph`): the clean test image is
    enlarged ×2, back to the scale of the drawings, and put on `paper` in `ink`."""

    def apply(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        drawing = image.convert("L").resize(
            (image.width * 2, image.height * 2), Image.Resampling.LANCZOS
        )
        return photograph(drawing, rng, PhotoOptions(paper=paper, ink=ink))

    return apply


def identity(image: Image.Image, _: np.random.Generator) -> Image.Image:
    return image


TRANSFORMS: dict[str, Transform] = {
    "original": identity,
    "scale ×0.5": rescale(0.5),
    "scale ×1.5": rescale(1.5),
    "scale ×2": rescale(2.0),
    "scale ×3": rescale(3.0),
    "JPEG q30": jpeg(30),
    "blur σ1": blur(1.0),
    "noise σ20": noise(20.0),
    "light on dark": light_on_dark,
    "colour": coloured,
    "margins 64 px": margins(64),
    "screenshot": screenshot,
}

HANDWRITING_TRANSFORMS: dict[str, Transform] = {
    "photo, plain paper": on_paper("plain", "pen"),
    "photo, ruled paper": on_paper("ruled", "pen"),
    "photo, squared paper": on_paper("squared", "pen"),
    "photo, pencil": on_paper("plain", "pencil"),
}
"""Conditions of handwritten test images only: ink on paper as a phone camera sees it."""
