"""How close our drawings of the CROHME training inks are to the CROHME 2014 test bitmaps.

The test bitmaps were made from ink by someone else; our renderer (`ink_render`) draws the
training inks. This compares the two as distributions, since the formulas differ: image height,
ink height, height of the connected pieces of ink (≈ symbols), stroke width (twice the distance
from the skeleton to the background) and ink density (ink pixels per pixel of the ink's
bounding box), each as p10 / median / p90, at the raw scale, and per collection of the inks.

    .venv/bin/python benchmarks/ink_render_closeness.py --count 1000
"""

from __future__ import annotations

import argparse
import io
import logging
import tarfile
from collections import defaultdict

import numpy as np
from PIL import Image, ImageOps

from handwriting_throughput import ink_statistics
from im2markup.data.handwriting.crohme_reader import TEST_IMAGES
from im2markup.data.handwriting.ink_render import InkStyle, render_expression
from im2markup.data.handwriting.inkml import load_crohme2014_train_ink
from im2markup.paths import shared_data_dir

COLUMNS = ("image height", "ink height", "piece height", "stroke width", "ink density")


def measure(image: Image.Image) -> tuple[float, ...]:
    """The five figures of one dark-on-white image."""
    ink = np.asarray(image.convert("L")) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
    height, piece, width = ink_statistics(image)
    return float(image.height), height, piece, width, float(ink.sum() / box)


def test_bitmaps() -> list[tuple[float, ...]]:
    figures = []
    with tarfile.open(shared_data_dir() / TEST_IMAGES, mode="r:gz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".bmp"):
                handle = archive.extractfile(member)
                assert handle is not None
                with Image.open(io.BytesIO(handle.read())) as bitmap:
                    figures.append(measure(ImageOps.invert(bitmap.convert("L"))))
    return figures


def row(name: str, figures: list[tuple[float, ...]]) -> str:
    values = np.array(figures)
    cells = []
    for k in range(len(COLUMNS)):
        low, mid, high = np.percentile(values[:, k], [10, 50, 90])
        digits = 2 if k == 4 else 1
        cells.append(f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}")
    return f"| {name} | {len(figures)} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="training inks drawn (spread)")
    parser.add_argument("--symbol-height", type=float, default=InkStyle().symbol_height)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    inks = load_crohme2014_train_ink()
    step = max(1, len(inks) // args.count)
    chosen = inks[::step][: args.count]
    style = InkStyle(symbol_height=args.symbol_height)
    ours: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for ink in chosen:
        ours[ink.collection].append(measure(render_expression(ink, style)))
    print("| images | n | " + " | ".join(f"{c} (p10 / median / p90)" for c in COLUMNS) + " |")
    print("| --- | ---: |" + " ---: |" * len(COLUMNS))
    print(row("CROHME 2014 test bitmaps", test_bitmaps()))
    print(row("our drawings of training inks", [f for group in ours.values() for f in group]))
    for collection in sorted(ours):
        print(row(f"… {collection}", ours[collection]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
