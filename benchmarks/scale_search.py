"""What reading user images at several scales adds, and what it costs.

The user-image path estimates each image's scale from its glyph heights, which is good to about
±20%. The predictor therefore decodes greedily at the estimate times each multiplier of
`SCALE_MULTIPLIERS`, keeps the scale whose reading the model scores highest and decodes that
one with the beam. This script compares that with decoding once at the estimate, on test
images transformed as users send them (the robustness suite's transforms), scored with the
evaluation's metrics (image match as in the paper, token match, token edit score).

    .venv/bin/python benchmarks/scale_search.py --n 150 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from PIL import Image

from im2markup.data.images.user_images import SCALE_MULTIPLIERS
from im2markup.evaluation.robustness import clean_inputs, condition_images, read_images
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.splits import Split, load_split
from im2markup.serving.predictor import Predictor, load_model

DEFAULT_TRANSFORMS = (
    "original",
    "scale ×0.5",
    "scale ×1.5",
    "scale ×2",
    "scale ×3",
    "light on dark",
    "screenshot",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--split", default="test-shared")
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    parser.add_argument("--transforms", default=",".join(DEFAULT_TRANSFORMS))
    args = parser.parse_args()

    split = load_split(args.split).head(args.n)
    render = RenderOptions(progress=False)
    clean = clean_inputs(split, render)
    predictor = load_model(args.model, threads=args.threads, beam_size=args.beam)
    modes = {"estimate only": (1.0,), "scale search": SCALE_MULTIPLIERS}
    report: dict = {"split": split.name, "n": len(split), "beam": args.beam, "rows": {}}
    for name in args.transforms.split(","):
        images = condition_images(name, clean, split, render)
        row = {}
        for mode, multipliers in modes.items():
            predictor.scale_multipliers = multipliers
            row[mode] = read_and_score(predictor, split, images)
        report["rows"][name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps(report, indent=2))


def read_and_score(
    predictor: Predictor, split: Split, images: Sequence[Image.Image | None]
) -> dict[str, float]:
    """Image match, token match and token edit score of the predictor's readings of `images`
    (None where an item has none), with the seconds it took per image."""
    start = time.perf_counter()
    tokens, _ = read_images(predictor, images, split.names)
    seconds = (time.perf_counter() - start) / max(1, sum(i is not None for i in images))
    metrics, _ = score_predictions(split, tokens, render=RenderOptions(progress=False))
    row = {key: round(metrics[key], 2) for key in ("image_match", "token_match", "edit_distance")}
    row["seconds_per_image"] = round(seconds, 3)
    return row


if __name__ == "__main__":
    main()
