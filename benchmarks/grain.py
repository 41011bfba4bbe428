"""How well grain on the paper is told apart, and what taking it off adds to the readings.

First the statistic `data.grain` decides on, the fraction of paper pixels off their 3×3
median, under the robustness suite's transforms of the shared validation images and of the
first `--n` test formulas in the paper's style: grain must stand apart from clean, blurred and
compressed images. Then those test items under each transform of `--read`, read with and
without the grain removal, scored with the evaluation's metrics.

    .venv/bin/python benchmarks/grain.py --n 200 --threads 1
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image

from im2markup.data.images import grain
from im2markup.data.images.user_images import read_page
from im2markup.evaluation.robustness import clean_inputs, condition_images
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import Split, load_split
from im2markup.serving.predictor import load_model
from scale_search import read_and_score

STATISTIC_CONDITIONS = (
    "original", "noise σ20", "blur σ1", "JPEG q30", "colour", "light on dark", "screenshot",
)  # fmt: skip


def statistic_rows(split: Split, clean: list[Image.Image | None]) -> dict[str, dict]:
    """Percentiles of the grain statistic per condition, and how many images count as grainy."""
    rows = {}
    for name in STATISTIC_CONDITIONS:
        images = condition_images(name, clean, split, RenderOptions(progress=False))
        values = [grain.grain_fraction(read_page(image)) for image in images if image]
        percentiles = np.percentile(values, [5, 50, 95, 100]).round(3).tolist()
        rows[name] = dict(zip(("p5", "median", "p95", "max"), percentiles, strict=True))
        rows[name]["grainy"] = sum(v >= grain.GRAINY_FRACTION for v in values)
        rows[name]["images"] = len(values)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--n", type=int, default=200, help="test items read per condition")
    parser.add_argument("--statistic-n", type=int, default=150, help="validation images")
    parser.add_argument("--read", nargs="*", default=["noise σ20", "JPEG q30", "original"])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    args = parser.parse_args()

    report: dict = {"threshold": grain.GRAINY_FRACTION, "statistic": {}, "readings": {}}
    inputs = {}
    for split_name, n in (("val", args.statistic_n), ("test", args.n)):
        split = load_split(split_name).head(n)
        inputs[split_name] = split, clean_inputs(split, RenderOptions(progress=False))
        report["statistic"][split_name] = statistic_rows(*inputs[split_name])
        print(json.dumps({split_name: report["statistic"][split_name]}), flush=True)

    split, clean = inputs["test"]
    predictor = load_model(args.model, threads=args.threads, beam_size=args.beam)
    for name in args.read:
        images = condition_images(name, clean, split, RenderOptions(progress=False))
        row = {}
        for mode, clear in (("as read", False), ("grain removed", True)):
            predictor.clear_grain = clear
            row[mode] = read_and_score(predictor, split, images)
        report["readings"][name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
