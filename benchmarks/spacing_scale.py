"""Does the model read a space's width from the image's absolute scale? Spacing against scale.

Reads the first `--n` formulas of a test split, typeset as the evaluation does, at several
scales around the one the reading path estimates (each multiplier alone, no scale search),
and reports per scale: match, match −ws, the items wrong only in spacing by kind, and the
width of the spacing commands the model wrote against its gold's, in mu (`\\,` 3, `\\:` 4,
`\\;` 5, `~` and `\\ ` 5.9, `\\quad` 18, `\\qquad` 36, `\\!` −3). A model that sizes spaces by
the glyphs around them writes the same widths at every scale; one that reads absolute pixel
widths writes wider spaces the larger the image, and training images scaled at random (the
printed model's 0.7–1.45 augmentation) then blur `\\,` into `\\;`.

    .venv/bin/python benchmarks/spacing_scale.py --split test --n 300 --threads 1 --out OUT
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from im2markup.evaluation.robustness import clean_inputs
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.spacing_errors import WIDTH_MU, spacing_counts, spacing_errors
from im2markup.evaluation.splits import load_split
from im2markup.serving.predictor import FailedPrediction, load_model


def spacing_width(tokens: list[str]) -> float:
    """The horizontal space the formula's spacing commands put in, in mu (others count 0)."""
    return sum(WIDTH_MU.get(c, 0) * n for c, n in spacing_counts(tokens).items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    parser.add_argument("--multipliers", default="0.8,0.9,1.0,1.12,1.25")
    parser.add_argument("--out", type=Path, help="folder for each scale's items")
    args = parser.parse_args()

    split = load_split(args.split).head(args.n)
    images = clean_inputs(split, RenderOptions(progress=False))
    kept = [k for k, image in enumerate(images) if image is not None]
    report: dict = {"split": split.name, "n": len(split), "typeset": len(kept), "beam": args.beam}
    for multiplier in (float(m) for m in args.multipliers.split(",")):
        predictor = load_model(
            args.model, threads=args.threads, beam_size=args.beam, scale_multipliers=(multiplier,)
        )
        results = predictor.predict_batch([images[k] for k in kept])
        tokens: list[list[str] | None] = [None] * len(split)
        for k, result in zip(kept, results, strict=True):
            tokens[k] = None if isinstance(result, FailedPrediction) else result.tokens.split()
        metrics, items = score_predictions(split, tokens, render=RenderOptions(progress=False))
        commands: Counter[str] = Counter()
        bias = []
        for k in kept:
            gold = split.golds[k].split()
            pred = tokens[k] or []
            commands.update(spacing_counts(pred))
            bias.append(spacing_width(pred) - spacing_width(gold))
        row = {key: round(metrics[key], 2) for key in ("image_match", "image_match_nows")}
        row |= {
            "spacing_errors": spacing_errors(items).as_dict(),
            "spacing_commands_written": dict(commands.most_common()),
            "mean_width_minus_gold_mu": round(statistics.fmean(bias), 3),
            "items_wider_than_gold": sum(b > 0 for b in bias),
            "items_narrower_than_gold": sum(b < 0 for b in bias),
        }
        report[str(multiplier)] = row
        print(json.dumps({multiplier: row}), flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            with (args.out / f"scale-{multiplier}.jsonl").open("w", encoding="utf-8") as out:
                for item in items:
                    fields = ("index", "gold", "pred", "image_match", "image_match_nows")
                    out.write(json.dumps({key: item.get(key) for key in fields}) + "\n")
    gold_commands = Counter(c for k in kept for c in spacing_counts(split.golds[k].split()))
    report["gold_spacing_commands"] = dict(gold_commands.most_common())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
