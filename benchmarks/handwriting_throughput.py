"""Synthetic handwriting: render throughput, and how its images compare with CROHME's bitmaps.

Renders CROHME *training* captions (mapped to the normalized form) and IM2LATEX-100K
validation formulas with `render_handwritten`, without a cache, and reports formulas per second
for the whole pipeline (checks, xelatex, Ghostscript at 300 dpi, distortions, crop / pad /
downsample) with the load average seen during each run. `--compare` then measures, at the raw
scale, the synthetic training renders against the CROHME 2014 test bitmaps as distributions
(not formula by formula): ink height, height of the connected pieces of ink, stroke width.

    .venv/bin/python benchmarks/handwriting_throughput.py --count 400 --runs 2 --compare
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tarfile
import time

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from skimage.morphology import skeletonize

from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_IMAGES, TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.render import render_handwritten
from im2markup.paths import shared_data_dir


def ink_statistics(image: Image.Image) -> tuple[float, float, float]:
    """(ink height, median height of the connected pieces, median stroke width) in pixels.

    Stroke width is twice the distance from the skeleton to the background, the diameter of
    the largest disc centred on the stroke.
    """
    ink = np.asarray(image.convert("L")) < 128
    rows = np.flatnonzero(ink.any(axis=1))
    labels, _ = ndimage.label(ink, structure=np.ones((3, 3)))
    heights = [box[0].stop - box[0].start for box in ndimage.find_objects(labels)]
    widths = 2 * ndimage.distance_transform_edt(ink)[skeletonize(ink)]
    return float(rows[-1] - rows[0] + 1), float(np.median(heights)), float(np.median(widths))


def crohme_test_statistics() -> list[tuple[float, float, float]]:
    """`ink_statistics` of every CROHME 2014 test bitmap, inverted to dark ink on white."""
    stats = []
    with tarfile.open(shared_data_dir() / TEST_IMAGES, mode="r:gz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".bmp"):
                handle = archive.extractfile(member)
                assert handle is not None
                with Image.open(io.BytesIO(handle.read())) as bitmap:
                    stats.append(ink_statistics(ImageOps.invert(bitmap.convert("L"))))
    return stats


def timed(formulas: list[str], args: argparse.Namespace, processed: bool) -> tuple[list, float]:
    start = time.perf_counter()
    results = render_handwritten(
        formulas, processed=processed, seed=args.seed, workers=args.workers
    )
    return results, time.perf_counter() - start


def report_statistics(name: str, stats: list[tuple[float, float, float]]) -> None:
    columns = np.array(stats)
    medians = np.median(columns, axis=0)
    low, high = np.percentile(columns[:, 2], [10, 90])
    print(
        f"{name:<28} n={len(stats):4d}  ink height {medians[0]:6.1f}  piece height "
        f"{medians[1]:5.1f}  stroke width {medians[2]:4.2f} (p10 {low:.2f}, p90 {high:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400, help="CROHME training captions")
    parser.add_argument("--im2latex", type=int, default=200, help="IM2LATEX-100K val formulas")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="compare with CROHME bitmaps")
    args = parser.parse_args(argv)

    root = shared_data_dir()
    captions = read_captions(root / TRAIN_CAPTIONS)[: args.count]
    crohme = [" ".join(to_normalized(tokens)) for _, tokens in captions]
    val = root / "im2latex100k" / "formulas" / "val.formulas.norm.txt"
    im2latex = val.read_text(encoding="utf-8").splitlines()[: args.im2latex]
    print(f"cpus {os.cpu_count()}, seed {args.seed}, workers {args.workers}")
    for name, formulas in (("CROHME train", crohme), ("IM2LATEX-100K val", im2latex)):
        rates = []
        for run in range(args.runs):
            load = os.getloadavg()[0]
            results, seconds = timed(formulas, args, processed=True)
            rates.append(len(formulas) / seconds)
            failed = sum(r.image is None for r in results)
            print(
                f"{name} run {run + 1}: {len(formulas)} formulas in {seconds:.1f} s, "
                f"{rates[-1]:.1f} formulas/s, {failed} failed, load average {load:.2f} before, "
                f"{os.getloadavg()[0]:.2f} after"
            )
        print(f"{name}: median {statistics.median(rates):.1f} formulas/s")

    if args.compare:
        raw, _ = timed(crohme, args, processed=False)
        report_statistics(
            "synthetic (CROHME train)", [ink_statistics(r.image) for r in raw if r.ok]
        )
        report_statistics("CROHME 2014 test bitmaps", crohme_test_statistics())
    return 0


if __name__ == "__main__":
    sys.exit(main())
