"""Score model folders with the trainer's own validation on one run's fixed validation subset.

A run validates on samples drawn once from its seed (`im2markup.training.validate`), so its
log is comparable only with itself. This script puts other models (the bundled one, another
run's `best/`) on the same samples: teacher-forced perplexity and token accuracy on one
subset, greedy exact token match and BLEU on the other, bf16 autocast as in training.

    .venv/bin/python benchmarks/validation_subset.py src/im2markup/bundled_models/im2tex \
        ~/.cache/im2markup/runs/standard-v3/best --data im2latex-pool \
        --samples 1000 --loss-samples 1000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from im2markup.data.dataset import FormulaDataset
from im2markup.model.io import load_model_dir
from im2markup.paths import data_dir
from im2markup.training.config import TrainConfig
from im2markup.training.validate import fixed_subset, validate


def main() -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help="model folders")
    parser.add_argument("--data", default="im2latex-v1", help="built dataset (its val split)")
    parser.add_argument("--samples", type=int, default=defaults.val_match_samples)
    parser.add_argument("--loss-samples", type=int, default=defaults.val_loss_samples)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="the run's train.seed")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    batch = defaults.val_batch_size
    print("| model | perplexity | token accuracy | exact match | BLEU | images |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for folder in args.models:
        model, cfg, vocab = load_model_dir(folder)
        val = FormulaDataset(data_dir() / args.data / "val", vocab)
        result = validate(
            model,
            val,
            fixed_subset(val, args.loss_samples, batch, args.seed),
            fixed_subset(val, args.samples, batch, args.seed + 1),
            vocab,
            torch.device("cpu"),
            lambda: torch.autocast("cpu", dtype=torch.bfloat16),
            cfg.max_len,
        )
        print(
            f"| {folder} | {result.perplexity:.3f} | {result.token_accuracy:.2f}% "
            f"| {result.exact_match:.2f}% | {result.bleu:.2f} | {result.match_images} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
