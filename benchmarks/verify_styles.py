"""Which render styles `--verify` needs, and what verification costs per image.

For test formulas shown in each of the two styles the project meets (the shared test images,
and our `paper` renders, which are the `test` split's inputs), the true formula is rendered in
each style and compared with the image exactly as `--verify` does. A style is worth trying
when it is the one that reproduces an image. The cost is the time of `score_candidates` for
five candidates (the true formula and four altered ones, as a beam of 5 would give), with one
style and with both.

    .venv/bin/python benchmarks/verify_styles.py --n 40
"""

from __future__ import annotations

import argparse
import json
import statistics
import tarfile
import time

from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.paths import shared_data_dir
from im2markup.serving.inputs import native_image
from im2markup.serving.limits import Limits
from im2markup.serving.rerank import STYLES, score_candidates


def altered(formula: str) -> list[str]:
    """Four wrong candidates: swapped letters, a dropped script, an extra term, a changed digit."""
    return [
        formula.replace("x", "y", 1) if "x" in formula else formula + " x",
        formula.replace("^ {", "_ {", 1) if "^ {" in formula else formula + " ^ { 2 }",
        formula + " + 1",
        formula.replace("1", "2", 1) if "1" in formula else formula + " 1",
    ]


def shared_images(n: int) -> list[Image.Image]:
    with tarfile.open(shared_data_dir() / "im2latex100k" / "images_test.tar") as tar:
        return [Image.open(tar.extractfile(f"{k}.png")).copy() for k in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    formulas = shared_data_dir() / "im2latex100k" / "formulas"
    norm = (formulas / "test.formulas.norm.txt").read_text().splitlines()[: args.n]
    nospace = (formulas / "test.formulas.nospace.txt").read_text().splitlines()[: args.n]
    paper = [r.image for r in render_formulas(norm, style="paper", processed=True)]
    inputs = {
        "shared test images": (shared_images(args.n), nospace),
        "paper renders": (paper, norm),
    }
    limits = Limits()
    report: dict = {"n": args.n}
    for name, (images, golds) in inputs.items():
        matched = {style: 0 for style in STYLES}
        usable = 0
        for image, gold in zip(images, golds, strict=True):
            if image is None:
                continue
            usable += 1
            pixels = native_image(image, limits)
            for style in STYLES:
                (candidate,) = score_candidates(pixels, [gold], (style,), limits)
                matched[style] += bool(candidate.comparison and candidate.comparison.match)
        report[name] = {"images": usable, "gold_matches_in_style": matched}
    timings: dict[str, list[float]] = {"one style": [], "both styles": []}
    images, golds = inputs["shared test images"]
    for image, gold in zip(images[:10], golds[:10], strict=True):
        pixels = native_image(image, limits)
        for label, styles in (("one style", STYLES[:1]), ("both styles", STYLES)):
            start = time.perf_counter()
            score_candidates(pixels, [gold, *altered(gold)], styles, limits)
            timings[label].append(time.perf_counter() - start)
    report["seconds_per_image_5_candidates"] = {
        label: round(statistics.median(values), 3) for label, values in timings.items()
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
