"""Attention cells scored per decoding step by each variant, on shared validation images.

The paper reports, per step: standard 355 fine cells; hierarchical 22 coarse + 355 fine;
sparsemax 22 coarse + 74 fine; hard 22 coarse + 16 fine. This teacher-forces the gold
formulas of the first `--images` validation images through a model of each variant and
prints the mean counts as a Markdown table. The model is a trained directory (`--model`),
or a `--preset` model with random weights (`--seed`), optionally first fitted to those same
images for `--train-steps` Adam steps so that its attention is no longer near-uniform.

    .venv/bin/python benchmarks/attention_cost.py --images 100
    .venv/bin/python benchmarks/attention_cost.py --images 100 --preset tiny --train-steps 300
"""

from __future__ import annotations

import argparse
import io
import tarfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from im2markup.data.vocab import Vocab
from im2markup.model.attention_cost import measure_attention_cost
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import load_model_dir
from im2markup.paths import shared_data_dir

VARIANTS = ("standard", "coarse_only", "hierarchical", "sparsemax", "hard")
PAPER = {
    "standard": "355 fine",
    "coarse_only": "—",
    "hierarchical": "22 coarse + 355 fine",
    "sparsemax": "22 coarse + 74 fine",
    "hard": "22 coarse + 16 fine",
}


def load_val(count: int) -> list[tuple[np.ndarray, str]]:
    """The first `count` validation images with their (space-stripped) formulas."""
    root = shared_data_dir() / "im2latex100k"
    lines = (root / "formulas" / "val.formulas.nospace.txt").read_text(encoding="utf-8")
    formulas = lines.split("\n")
    samples = []
    with tarfile.open(root / "images_val.tar") as tar:
        for k in range(count):
            member = tar.extractfile(f"{k}.png")
            image = Image.open(io.BytesIO(member.read())).convert("L")
            samples.append((np.asarray(image), formulas[k]))
    return samples


def batches(
    samples: list[tuple[np.ndarray, str]], vocab: Vocab, batch_size: int
) -> list[dict[str, torch.Tensor]]:
    """Batches of same-size images, in the dataset's batch format."""
    by_size: dict[tuple[int, int], list[tuple[np.ndarray, str]]] = defaultdict(list)
    for image, formula in samples:
        by_size[image.shape].append((image, formula))
    out = []
    for group in by_size.values():
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            ids = [vocab.encode(formula) for _, formula in chunk]
            tgt = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
            for row, seq in enumerate(ids):
                tgt[row, : len(seq)] = torch.tensor(seq)
            images = torch.from_numpy(np.stack([image for image, _ in chunk])).unsqueeze(1)
            lengths = torch.tensor([len(seq) - 1 for seq in ids])
            out.append({"images": images, "tgt": tgt, "tgt_lengths": lengths})
    return out


def fit(model: torch.nn.Module, data: list[dict[str, torch.Tensor]], steps: int) -> None:
    """Adam steps over `data`, cycling through its batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        loss = model.training_loss(data[step % len(data)]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="measure this trained model directory only")
    parser.add_argument("--preset", default="paper", help="size of the random models")
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    samples = load_val(args.images)
    if args.model:
        model, cfg, vocab = load_model_dir(args.model)
        models = {cfg.attention: model}
    else:
        vocab = Vocab.build((formula for _, formula in samples), min_count=1)
        models = {}
        for name in args.variants:
            torch.manual_seed(args.seed)
            models[name] = build_model(preset(args.preset, attention=name), len(vocab))
    data = batches(samples, vocab, args.batch)
    print(f"{len(samples)} validation images, {len(data)} batches")
    print("| attention | coarse cells / step | fine cells / step | fine grid cells | paper |")
    print("| --- | --- | --- | --- | --- |")
    for name, model in models.items():
        fit(model, data, args.train_steps)
        cost = measure_attention_cost(model, data)
        print(
            f"| {name} | {cost.coarse_per_step:.1f} | {cost.fine_per_step:.1f} "
            f"| {cost.fine_grid_cells:.1f} | {PAPER[name]} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
