"""What render-and-compare refinement adds over the plain beam and over reranking, and its cost.

Reads the first `--n` formulas of a test split three ways with the same model and beam: the
beam's best, the beam reranked by render (`--verify`), and refined (`--refine`: the beam and
close variants of its best reading, rendered and compared with the input). Each reading is
timed per image and scored with the evaluation's metrics, with the items wrong only in spacing
counted by kind. Items of a split without images (the paper-style `test`) are typeset in the
split's style first, as the evaluation does.

    .venv/bin/python benchmarks/refine_gain.py --split test --n 300 --threads 2 --out /tmp/refine

With `--out`, each reading's items (gold, prediction, image matches, seconds) are written to
`MODE.jsonl` there, to look at what is still wrong.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from im2markup.evaluation.robustness import clean_inputs
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.spacing_errors import spacing_errors
from im2markup.evaluation.splits import load_split
from im2markup.serving.predictor import FailedPrediction, Predictor, load_model

MODES = {"beam": {}, "verify": {"verify": True}, "refine": {"refine": True}}


def timed_readings(predictor: Predictor, images: list, beam: int, options: dict) -> tuple:
    """Each image read alone (so each has its own latency): results and seconds."""
    results, seconds = [], []
    for image in images:
        start = time.perf_counter()
        results.append(predictor.predict_batch([image], beam_size=beam, **options)[0])
        seconds.append(time.perf_counter() - start)
    return results, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument("--modes", default=",".join(MODES), help="readings to compare")
    parser.add_argument("--out", type=Path, help="folder for each reading's items")
    args = parser.parse_args()

    split = load_split(args.split).head(args.n)
    images = clean_inputs(split, RenderOptions(progress=False))
    kept = [k for k, image in enumerate(images) if image is not None]
    predictor = load_model(args.model, threads=args.threads, verify_styles=(split.style,))
    report: dict = {"split": split.name, "n": len(split), "typeset": len(kept), "beam": args.beam}
    for name in args.modes.split(","):
        results, seconds = timed_readings(
            predictor, [images[k] for k in kept], args.beam, MODES[name]
        )
        tokens: list[list[str] | None] = [None] * len(split)
        for k, result in zip(kept, results, strict=True):
            tokens[k] = None if isinstance(result, FailedPrediction) else result.tokens.split()
        metrics, items = score_predictions(split, tokens, render=RenderOptions(progress=False))
        row = {key: round(metrics[key], 2) for key in ("bleu", "image_match", "image_match_nows")}
        row["spacing_errors"] = spacing_errors(items).as_dict()
        row["seconds"] = {
            "median": round(statistics.median(seconds), 3),
            "p90": round(float(np.percentile(seconds, 90)), 3),
            "mean": round(statistics.fmean(seconds), 3),
        }
        report[name] = row
        print(json.dumps({name: row}), flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            took = dict(zip(kept, seconds, strict=True))
            with (args.out / f"{name}.jsonl").open("w", encoding="utf-8") as out:
                for item in items:
                    fields = ("index", "gold", "pred", "image_match", "image_match_nows")
                    record = {key: item.get(key) for key in fields}
                    out.write(json.dumps(record | {"seconds": took.get(item["index"])}) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
