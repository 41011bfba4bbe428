"""What reading large images with heavier strokes too adds, and what it costs.

The training renders have heavy strokes (every pixel a glyph touches is ink); a formula typeset
at a screen's resolution has thin ones, which turn gray when shrunk to the model's scale. For
an image at least `CHOICE_SCALE` times the training scale the predictor also reads a copy with
heavier strokes (`data.stroke_weight`) and keeps the reading the model is surest of. This
script reads test formulas typeset in several ways with and without that copy and scores the
readings with the evaluation's metrics.

    .venv/bin/python benchmarks/stroke_weight.py --n 150 --threads 1
"""

from __future__ import annotations

import argparse
import json

from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.evaluation.robustness import clean_inputs
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import load_split
from im2markup.evaluation.transforms import rescale
from im2markup.serving.predictor import load_model
from scale_search import read_and_score

# name → (dots per inch, thin anti-aliased strokes); 100 dpi is the model's scale.
TYPESET = {
    "thin, ×1 (100 dpi)": (100, True),
    "thin, ×1.2 (120 dpi)": (120, True),
    "thin, ×1.5 (150 dpi)": (150, True),
    "thin, ×2 (200 dpi)": (200, True),
    "thin, ×4 (400 dpi)": (400, True),
    "bold, ×6 (600 dpi)": (600, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    args = parser.parse_args()

    split = load_split(args.split).head(args.n)
    clean = clean_inputs(split, RenderOptions(progress=False))
    conditions: dict[str, list[Image.Image | None]] = {
        "bold, model scale": clean,
        "bold, ×1.5 (resized)": [None if i is None else rescale(1.5)(i, None) for i in clean],
    }
    for name, (dpi, thin) in TYPESET.items():
        renders = render_formulas(
            split.golds, style=split.style, processed=False, composited=thin, dpi=dpi
        )
        conditions[name] = [r.image for r in renders]
    predictor = load_model(args.model, threads=args.threads, beam_size=args.beam)
    report: dict = {"split": split.name, "n": len(split), "beam": args.beam, "rows": {}}
    for name, images in conditions.items():
        row = {}
        for mode, heavier in (("as read", False), ("heavier copy too", True)):
            predictor.heavier_strokes = heavier
            row[mode] = read_and_score(predictor, split, images)
        report["rows"][name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
