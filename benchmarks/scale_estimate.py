"""How well is a user image's scale recovered from its glyph heights, with and without specks?

Rescales the first `--n` shared validation images (those with more than 50 ink pixels) by
×0.5 … ×3 and reports, per factor, the share whose estimated scale is within 15% of the true
factor (absolute) and within 15% of the image's own estimate times the factor (relative),
once for each `--speck-fraction` (0 keeps every dot and speck, as the measure did before
`user_images._SPECK_FRACTION` existed).

    .venv/bin/python benchmarks/scale_estimate.py --n 200 --speck-fraction 0 0.3
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.images import user_images

FACTORS = (0.5, 0.75, 1.5, 2.0, 3.0)
TOLERANCE = 0.15


def validation_images(im2latex_dir: Path, n: int) -> list[np.ndarray]:
    """Shared validation images 0 … n−1 that hold some ink, as gray arrays."""
    names = {f"{k}.png" for k in range(n)}
    with tarfile.open(im2latex_dir / "images_val.tar") as tar:
        found = {
            Path(m.name).name: tar.extractfile(m).read() for m in tar if Path(m.name).name in names
        }
    images = [np.asarray(Image.open(io.BytesIO(found[name])).convert("L")) for name in found]
    return [image for image in images if (image <= 128).sum() > 50]


def rescaled(image: np.ndarray, factor: float) -> np.ndarray:
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def estimate(image: np.ndarray) -> float:
    scale = user_images.estimate_scale(user_images._normalize(image))
    return np.nan if scale is None else scale


def recovery(images: list[np.ndarray]) -> tuple[float, dict[float, tuple[float, float]]]:
    """Share at scale 1 within tolerance, and per factor (absolute, relative) shares."""
    own = np.array([estimate(image) for image in images])
    rows = {}
    for factor in FACTORS:
        found = np.array([estimate(rescaled(image, factor)) for image in images])
        absolute = np.mean(np.abs(found / factor - 1) < TOLERANCE)
        relative = np.mean(np.abs(found / own / factor - 1) < TOLERANCE)
        rows[factor] = (float(absolute), float(relative))
    return float(np.mean(np.abs(own - 1) < TOLERANCE)), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data/im2latex100k"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--speck-fraction", type=float, nargs="+", default=[0.0, 0.3])
    args = parser.parse_args()
    images = validation_images(args.shared, args.n)
    print(f"{len(images)} images with ink of the first {args.n}")
    header = " | ".join(f"×{f:g} abs / rel" for f in FACTORS)
    print(f"| speck fraction | ×1 (own) | {header} |")
    print("| --- |" + " ---: |" * (len(FACTORS) + 1))
    for fraction in args.speck_fraction:
        user_images._SPECK_FRACTION = fraction
        own, rows = recovery(images)
        cells = " | ".join(f"{100 * a:.1f} / {100 * r:.1f}" for a, r in rows.values())
        print(f"| {fraction:g} | {100 * own:.1f} | {cells} |")


if __name__ == "__main__":
    main()
