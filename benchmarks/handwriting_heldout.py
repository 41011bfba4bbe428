"""Handwriting models on the held-out writers: ExpRate, split by whether the formula is new.

The validation split of the ink dataset (`im2markup data build-handwritten --ink`) is every
expression of 28 writers the models never saw. Other writers wrote many of the same formulas,
so part of the split tests new handwriting of known formulas and part new handwriting of new
formulas, the situation of the CROHME 2014 test set. This decodes the split with each model
(CROHME's symbols only, as `evaluate --split crohme2014` does) and reports the expression rate
and ≤ 1 / ≤ 2 error rates on all items and on each part.

    .venv/bin/python benchmarks/handwriting_heldout.py \
        src/im2markup/bundled_models/im2tex-handwritten ~/.cache/im2markup/runs/hw-ink/best \
        --data hw-v2/ink --beam 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from im2markup.data.handwriting.crohme import crohme_mask, from_normalized
from im2markup.data.handwriting.crohme_metrics import expression_rates
from im2markup.data.images.buckets import bucket_for
from im2markup.data.shards import ShardReader, formula_key
from im2markup.inference.batches import Search, decode_images
from im2markup.inference.loading import load_for_inference
from im2markup.paths import data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help="model folders")
    parser.add_argument("--data", default="hw-v2/ink", help="built ink dataset (its val split)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    root = data_dir() / args.data
    known = {formula_key(label) for label in ShardReader(root / "train").labels()}
    val = ShardReader(root / "val")
    golds = [label.split() for label in val.labels()]
    new = np.array([formula_key(label) not in known for label in val.labels()])
    print(f"{len(golds)} held-out expressions, {int(new.sum())} of formulas no training ink has")
    print("| model | beam | all: ExpRate / ≤1 / ≤2 | known formulas | new formulas |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for folder in args.models:
        loaded = load_for_inference(folder, threads=args.threads)
        images = []
        for k in range(len(val)):
            pixels = val.image(k)
            width, height = bucket_for(*pixels.shape)
            padded = np.full((height, width), 255, dtype=np.uint8)
            padded[: pixels.shape[0], : pixels.shape[1]] = pixels
            images.append(padded)
        search = Search(args.beam, allowed_tokens=crohme_mask(loaded.vocab))
        decoded = decode_images(loaded.model, images, loaded.device, search, 16)
        predictions = [from_normalized(loaded.vocab.decode(h.token_ids)) for h, _ in decoded]
        crohme_golds = [from_normalized(g) for g in golds]
        cells = []
        for mask in (np.ones(len(golds), bool), ~new, new):
            chosen = np.flatnonzero(mask)
            rates = expression_rates(
                [predictions[k] for k in chosen], [crohme_golds[k] for k in chosen]
            )
            cells.append(f"{rates.exact:.2f} / {rates.within_1:.2f} / {rates.within_2:.2f}")
        print(f"| {folder} | {args.beam} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
