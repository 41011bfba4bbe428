"""Real validation images and labels for the model tests (read from the shared tar, in memory)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from im2markup.data.vocab import Vocab

# Short validation formulas whose images share the 120×50 bucket (checked in the tests).
SMALL_VAL_INDICES = (416, 4130, 4244, 4306, 4559, 2663, 4303, 3582)


def load_val_images(im2latex_dir: Path, indices: tuple[int, ...]) -> torch.Tensor:
    """`B×1×H×W` uint8 images `k.png` of `images_val.tar` (all of one size)."""
    arrays = []
    with tarfile.open(im2latex_dir / "images_val.tar") as tar:
        for k in indices:
            member = tar.extractfile(f"{k}.png")
            assert member is not None, f"{k}.png missing from images_val.tar"
            image = Image.open(io.BytesIO(member.read())).convert("L")
            arrays.append(np.asarray(image))
    return torch.from_numpy(np.stack(arrays)).unsqueeze(1)


def load_val_formulas(im2latex_dir: Path, indices: tuple[int, ...]) -> list[str]:
    """Labels of the validation images: line k of `val.formulas.nospace.txt`."""
    path = im2latex_dir / "formulas" / "val.formulas.nospace.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    return [lines[k] for k in indices]


def make_batch(images: torch.Tensor, formulas: list[str], vocab: Vocab) -> dict[str, torch.Tensor]:
    """A batch in the dataset's format: `<bos>` tokens `<eos>` padded with `<pad>`."""
    encoded = [vocab.encode(f) for f in formulas]
    tgt = torch.zeros(len(encoded), max(map(len, encoded)), dtype=torch.long)
    for row, ids in enumerate(encoded):
        tgt[row, : len(ids)] = torch.tensor(ids)
    lengths = torch.tensor([len(ids) - 1 for ids in encoded])
    return {"images": images, "tgt": tgt, "tgt_lengths": lengths, "ids": torch.arange(len(encoded))}


def val_sample(
    im2latex_dir: Path, n: int
) -> tuple[dict[str, torch.Tensor], Vocab, list[list[int]]]:
    """The first `n` small validation samples: batch, their vocabulary, gold token ids."""
    indices = SMALL_VAL_INDICES[:n]
    formulas = load_val_formulas(im2latex_dir, indices)
    vocab = Vocab(t for f in formulas for t in f.split())
    batch = make_batch(load_val_images(im2latex_dir, indices), formulas, vocab)
    gold = [vocab.encode(f, add_bos_eos=False) for f in formulas]
    return batch, vocab, gold
