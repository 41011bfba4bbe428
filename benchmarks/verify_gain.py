"""What render-verified reranking adds: exact match with and without `--verify`, and its cost.

Decodes the first `--n` images of a test split with beam search twice, once keeping the beam's
best and once reranking the n-best by rendering them (`im2markup.serving.rerank`), then scores
both with the evaluation's metrics (image exact match as in the paper, token match, BLEU).
It also reports how often the "render matches the input" flag is right.

    .venv/bin/python benchmarks/verify_gain.py --split test-shared --n 300
    .venv/bin/python benchmarks/verify_gain.py --split test-shared --n 300 --styles shared
"""

from __future__ import annotations

import argparse
import json
import time

from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.splits import load_split
from im2markup.serving.predictor import FailedPrediction, Predictor, load_model
from im2markup.serving.rerank import STYLES


def run_mode(predictor: Predictor, images: list, beam: int, verify: bool) -> tuple[list, float]:
    """Results for every image and the seconds per image."""
    start = time.perf_counter()
    results = predictor.predict_batch(images, beam_size=beam, verify=verify)
    return results, (time.perf_counter() - start) / len(images)


def flag_quality(results: list, items: list[dict]) -> dict:
    """How well `verified` predicts the evaluation's image match."""
    pairs = [
        (r.verified, bool(item.get("image_match")))
        for r, item in zip(results, items, strict=True)
        if not isinstance(r, FailedPrediction) and r.verified is not None
    ]
    flagged = [match for verified, match in pairs if verified]
    return {
        "flagged": len(flagged),
        "flag_precision": round(100 * sum(flagged) / len(flagged), 2) if flagged else None,
        "matches_missed_by_flag": sum(match and not verified for verified, match in pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--split", default="test-shared")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--styles", default=",".join(STYLES), help="render styles to try")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    args = parser.parse_args()

    split = load_split(args.split).head(args.n)
    images = [split.input_image(k) for k in range(len(split))]
    missing = [split.names[k] for k, image in enumerate(images) if image is None]
    if missing:
        raise SystemExit(
            f"{len(missing)} items of {split.name} have no input image, e.g. {missing[0]}"
        )
    predictor = load_model(
        args.model, threads=args.threads, verify_styles=tuple(args.styles.split(","))
    )
    report: dict = {"split": split.name, "n": len(split), "beam": args.beam, "styles": args.styles}
    for name, verify in (("beam", False), ("verified", True)):
        results, seconds = run_mode(predictor, images, args.beam, verify)
        tokens = [None if isinstance(r, FailedPrediction) else r.tokens.split() for r in results]
        metrics, items = score_predictions(split, tokens, render=RenderOptions(progress=False))
        row = {
            key: round(metrics[key], 2) if isinstance(metrics[key], float) else metrics[key]
            for key in ("image_match", "image_match_nows", "token_match", "bleu")
        }
        row["seconds_per_image"] = round(seconds, 3)
        if verify:
            row.update(flag_quality(results, items))
        report[name] = row
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
