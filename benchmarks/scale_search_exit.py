"""What stopping the scale search early would cost and save, measured offline on one decoding run.

`im2markup predict` reads a user image greedily at four scales (and a heavier-stroked copy for
thin strokes), keeps the scale whose reading the model is surest of, and runs the beam there.
For a large model that search is most of the latency. The rule measured here beams at the
estimated scale first and stops when that reading's mean log-probability per token (`<eos>`
included) is at least log τ; otherwise it runs the greedy search and beams again where a
greedy reading scored higher than the first beam did.

For each image the script records the beam at the estimated scale, the greedy reading at every
candidate and the beam at the search's choice, with their times, and then replays both rules
for several τ. Accuracy is exact token match with the normalized gold (the beam's top entry,
before the well-formed choice), on the first `--items` test formulas per condition.

    .venv/bin/python benchmarks/scale_search_exit.py --model DIR --items 100 --threads 1
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from im2markup.evaluation.robustness import clean_inputs, condition_images
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import load_split
from im2markup.inference.loading import default_model_dir
from im2markup.serving.inputs import prepare_inputs
from im2markup.serving.predictor import Predictor, load_model

CONDITIONS = ("original", "scale ×1.5", "screenshot", "typeset ×1.2 thin")
THRESHOLDS = (0.9, 0.95, 0.97, 0.98, 0.99)


@dataclass
class Reading:
    tokens: list[str]
    score: float
    seconds: float

    @property
    def per_token(self) -> float:
        """Mean log-probability per token: `score` is a sum, `<eos>` included."""
        return self.score / (len(self.tokens) + 1)


@dataclass
class Record:
    gold: list[str]
    first: Reading  # the beam at the estimated scale
    greedy: list[Reading]  # the greedy reading at every candidate of the search
    chosen: Reading  # the beam at the candidate of the best greedy reading


def decode(predictor: Predictor, pixels: np.ndarray, beam: int) -> Reading:
    """One image decoded alone, as `predict` decodes a single image."""
    start = time.perf_counter()
    with torch.inference_mode():
        (hyp,) = predictor.model.decode(
            torch.from_numpy(pixels[None, None].copy()), beam_size=beam, max_len=predictor.max_len
        )
    seconds = time.perf_counter() - start
    return Reading(predictor.vocab.decode(hyp.token_ids), float(hyp.score), seconds)


def record(predictor: Predictor, image: Image.Image, gold: list[str], beam: int) -> Record | None:
    """All the decodes either rule could need for one image (None if it cannot be read)."""
    try:
        first_inputs = prepare_inputs(image, predictor.limits, (1.0,), heavier_strokes=False)
        search_inputs = prepare_inputs(image, predictor.limits)
    except ValueError:
        return None
    first = decode(predictor, first_inputs.candidates[0], beam)
    greedy = [decode(predictor, pixels, 1) for pixels in search_inputs.candidates]
    best = max(range(len(greedy)), key=lambda j: greedy[j].score)
    chosen = decode(predictor, search_inputs.candidates[best], beam)
    return Record(gold, first, greedy, chosen)


def search_rule(rec: Record) -> tuple[list[str], float]:
    """What `predict` does now: every greedy reading, then the beam at the best one."""
    return rec.chosen.tokens, sum(r.seconds for r in rec.greedy) + rec.chosen.seconds


def early_rule(rec: Record, threshold: float) -> tuple[list[str], float]:
    """Beam at the estimate; search only when that reading is not confident enough."""
    if rec.first.per_token >= math.log(threshold):
        return rec.first.tokens, rec.first.seconds
    seconds = rec.first.seconds + sum(r.seconds for r in rec.greedy)
    if max(r.score for r in rec.greedy) > rec.first.score:
        return rec.chosen.tokens, seconds + rec.chosen.seconds
    return rec.first.tokens, seconds


def summary(
    records: list[Record], rule: Callable[[Record], tuple[list[str], float]]
) -> dict[str, float]:
    outcomes = [rule(rec) for rec in records]
    right = sum(tokens == rec.gold for (tokens, _), rec in zip(outcomes, records, strict=True))
    times = [seconds for _, seconds in outcomes]
    return {
        "exact_match": round(100 * right / len(records), 2),
        "median_ms": round(1000 * statistics.median(times), 1),
        "mean_ms": round(1000 * statistics.fmean(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: bundled)")
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    args = parser.parse_args()

    model_dir = args.model or default_model_dir()
    predictor = load_model(model_dir, threads=args.threads)
    split = load_split("test").head(args.items)
    render = RenderOptions(progress=False)
    inputs = clean_inputs(split, render)
    report: dict = {
        "model": str(model_dir),
        "items": len(split),
        "beam": args.beam,
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "conditions": {},
    }
    for name in args.conditions:
        images = condition_images(name, inputs, split, render)
        records = [
            rec
            for k, image in enumerate(images)
            if image is not None
            and (rec := record(predictor, image, split.golds[k].split(), args.beam)) is not None
        ]
        rows = {"search (now)": summary(records, search_rule)}
        for tau in THRESHOLDS:
            rows[f"stop at τ={tau}"] = summary(records, lambda rec, t=tau: early_rule(rec, t))
            confident = sum(rec.first.per_token >= math.log(tau) for rec in records)
            rows[f"stop at τ={tau}"]["stopped_%"] = round(100 * confident / len(records), 1)
        report["conditions"][name] = {"read": len(records), "rules": rows}
        print(f"\n{name} ({len(records)} images)")
        for rule, row in rows.items():
            print(f"  {rule:16s} {json.dumps(row)}")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
