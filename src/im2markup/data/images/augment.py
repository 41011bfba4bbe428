"""Load-time augmentation of training images: scale, strokes, blur, noise, JPEG, tilt, margins.

The model meets images rendered at another size (the shared images are 10–17% smaller than the
paper's), with bold strokes (alpha dropped) or thin anti-aliased ones (composited), scanned or
compressed; these transforms cover that range. Each is applied with its own probability, draws
only from the generator it is given (so a sample's augmentation is fixed by its seed), and keeps
the image a valid model input: `uint8`, white background, ink present, fitting its bucket.

The scale is not drawn here: the batch sampler plans it (`BucketBatchSampler(scale_range=…)`) so
that the scaled image lands in the bucket its batch is padded to; `AugmentConfig.scale_range`
is the value to give the sampler.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from im2markup.data.images.buckets import Bucket
from im2markup.data.images.rescale import rescale

MARGIN = 4
"""White border (px) around the ink of a processed image: 8 px before the ×2 downsampling."""
INK = 128
"""Pixels at or below this are ink (the paper's binarization threshold)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each transform; probability 0 turns a transform off."""

    scale_range: tuple[float, float] = (0.6, 2.0)
    scale_prob: float = 0.5
    stroke_prob: float = 0.4
    blur_prob: float = 0.15
    blur_radius: tuple[float, float] = (0.3, 0.9)
    noise_prob: float = 0.15
    noise_std: tuple[float, float] = (2.0, 10.0)
    jpeg_prob: float = 0.15
    jpeg_quality: tuple[int, int] = (30, 90)
    tilt_prob: float = 0.15
    max_rotation: float = 1.5
    max_shear: float = 0.15
    margin_prob: float = 0.3


def has_ink(image: np.ndarray) -> bool:
    return bool((image <= INK).any())


def fits(image: np.ndarray, bucket: Bucket) -> bool:
    return image.shape[0] <= bucket[1] and image.shape[1] <= bucket[0]


def stroke(image: np.ndarray, kind: str) -> np.ndarray:
    """Change the stroke weight.

    `bold` pushes grey edges to black (as when the alpha channel is dropped), `thin` fades them
    (as a composited anti-aliased render); `dilate` and `erode` work by 1 px, erosion at half
    strength so that 1-px strokes survive.
    """
    darkness = (255.0 - image) / 255.0
    if kind == "bold":
        darkness = np.minimum(1.0, darkness * 2.0)
    elif kind == "thin":
        darkness = darkness**2.2
    elif kind == "dilate":
        return np.asarray(Image.fromarray(image).filter(ImageFilter.MinFilter(3)))
    elif kind == "erode":
        eroded = np.asarray(Image.fromarray(image).filter(ImageFilter.MaxFilter(3)))
        return ((image.astype(np.uint16) + eroded) // 2).astype(np.uint8)
    else:
        raise ValueError(f"unknown stroke change {kind!r} (bold, thin, dilate, erode)")
    return np.rint(255.0 - darkness * 255.0).astype(np.uint8)


def tilt(image: np.ndarray, degrees: float, shear: float) -> np.ndarray:
    """Rotate by `degrees` and shear horizontally by `shear`, then crop back to the ink."""
    picture = Image.fromarray(image)
    if shear:
        width, height = picture.size
        extra = int(np.ceil(abs(shear) * height))
        offset = -extra if shear > 0 else 0
        picture = picture.transform(
            (width + extra, height),
            Image.Transform.AFFINE,
            (1, shear, offset, 0, 1, 0),
            resample=Image.Resampling.BICUBIC,
            fillcolor=255,
        )
    if degrees:
        picture = picture.rotate(
            degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255
        )
    return recrop(np.asarray(picture))


def recrop(image: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    """The ink with a `margin` of white around it (unchanged if there is no ink)."""
    rows = np.flatnonzero((image < 255).any(axis=1))
    if rows.size == 0:
        return image
    cols = np.flatnonzero((image < 255).any(axis=0))
    core = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.pad(core, margin, constant_values=255)


def blur(image: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("L"))


def noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise, one-sided on the background so that white stays (almost) white."""
    grain = rng.normal(0.0, std, image.shape)
    grain = np.where(image >= 250, -np.abs(grain), grain)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def add_margins(image: np.ndarray, bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
    """White added left/top/right/bottom at random, never beyond the bucket."""
    height, width = image.shape
    spare_w, spare_h = max(0, bucket[0] - width), max(0, bucket[1] - height)
    left = int(rng.integers(0, spare_w // 2 + 1))
    top = int(rng.integers(0, spare_h // 2 + 1))
    right = int(rng.integers(0, spare_w - left + 1)) // 2
    bottom = int(rng.integers(0, spare_h - top + 1)) // 2
    return np.pad(image, ((top, bottom), (left, right)), constant_values=255)


class Augmenter:
    """The `Transform` of `FormulaDataset`: (image, rng, planned scale, bucket) → image.

    A transform whose result loses the ink or outgrows the bucket is skipped.
    """

    def __init__(self, config: AugmentConfig | None = None):
        self.config = config or AugmentConfig()

    def __call__(
        self, image: np.ndarray, rng: np.random.Generator, scale: float, bucket: Bucket
    ) -> np.ndarray:
        cfg = self.config
        out = rescale(image, scale)
        steps = (
            (cfg.stroke_prob, self._stroke),
            (cfg.tilt_prob, self._tilt),
            (cfg.margin_prob, add_margins),
            (cfg.blur_prob, self._blur),
            (cfg.jpeg_prob, self._jpeg),
            (cfg.noise_prob, self._noise),
        )
        for probability, step in steps:
            if rng.random() < probability:
                changed = step(out, bucket, rng)
                if has_ink(changed) and fits(changed, bucket):
                    out = changed
        return out

    def _stroke(self, image: np.ndarray, _bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        return stroke(image, str(rng.choice(("bold", "thin", "dilate", "erode"))))

    def _tilt(self, image: np.ndarray, _bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        degrees = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
        return tilt(image, degrees, rng.uniform(-cfg.max_shear, cfg.max_shear))

    def _blur(self, image: np.ndarray, _bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        return blur(image, rng.uniform(*self.config.blur_radius))

    def _jpeg(self, image: np.ndarray, _bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        low, high = self.config.jpeg_quality
        return jpeg(image, int(rng.integers(low, high + 1)))

    def _noise(self, image: np.ndarray, _bucket: Bucket, rng: np.random.Generator) -> np.ndarray:
        return noise(image, rng.uniform(*self.config.noise_std), rng)
