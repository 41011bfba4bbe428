"""Cost of load-time augmentation per training image, beside the training step it feeds.

Augmentation runs in the data loader, on the same CPU cores as the training step: at ~20
images/s for the paper-size model (50 ms per image), what it costs per image is what it takes
from training. Each repeat augments the first `--images` shared validation images once, with
scales planned the way `BucketBatchSampler` plans them (log-uniform over the configured range
with the configured probability), under the default `AugmentConfig` and with every transform
forced on. Reports the median milliseconds per image over the repeats and the load average.

    .venv/bin/python benchmarks/augment_throughput.py --images 200 --repeats 5
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import tarfile
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from im2markup.data.images.augment import AugmentConfig, Augmenter
from im2markup.data.images.buckets import bucket_for
from im2markup.paths import shared_data_dir

EVERY_TRANSFORM = {
    "scale_prob": 1.0,
    "stroke_prob": 1.0,
    "blur_prob": 1.0,
    "noise_prob": 1.0,
    "jpeg_prob": 1.0,
    "tilt_prob": 1.0,
    "margin_prob": 1.0,
}


def shared_val_images(count: int) -> list[np.ndarray]:
    """Validation images `0.png` … `count-1` of the shared archive, as gray arrays."""
    found: dict[int, np.ndarray] = {}
    with tarfile.open(shared_data_dir() / "im2latex100k" / "images_val.tar") as tar:
        for member in tar:
            stem = member.name.rsplit("/", 1)[-1].removesuffix(".png")
            if member.isfile() and stem.isdigit() and int(stem) < count:
                data = tar.extractfile(member).read()
                found[int(stem)] = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
                if len(found) == count:
                    break
    return [found[k] for k in sorted(found)]


def planned_scale(config: AugmentConfig, rng: np.random.Generator) -> float:
    """A scale drawn as the batch sampler draws it."""
    if rng.random() >= config.scale_prob:
        return 1.0
    low, high = config.scale_range
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def milliseconds_per_image(config: AugmentConfig, images: list[np.ndarray], seed: int) -> float:
    """One pass over `images`, augmented once each: wall milliseconds per image."""
    augmenter = Augmenter(config)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for image in images:
        scale = planned_scale(config, rng)
        planned = (round(image.shape[0] * scale), round(image.shape[1] * scale))
        augmenter(image, rng, scale, bucket_for(*planned))
    return 1000 * (time.perf_counter() - start) / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = shared_val_images(args.images)
    configs = {
        "default": AugmentConfig(),
        "every transform": replace(AugmentConfig(), **EVERY_TRANSFORM),
    }
    print(f"{len(images)} shared validation images, {args.repeats} repeats, {os.cpu_count()} CPUs")
    print("| configuration | median ms/image | min | max | images/s | load average |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, config in configs.items():
        times = [milliseconds_per_image(config, images, seed) for seed in range(args.repeats)]
        median = statistics.median(times)
        load = os.getloadavg()[0]
        print(
            f"| {name} | {median:.2f} | {min(times):.2f} | {max(times):.2f} | "
            f"{1000 / median:.0f} | {load:.2f} |"
        )


if __name__ == "__main__":
    main()
