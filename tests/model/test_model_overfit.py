"""Every model must be able to memorise a handful of real formula images exactly.

This is the end-to-end check of encoder, attention, decoder, loss and search together: a
model that cannot drive its training loss to zero on 8 images, or whose greedy decoding
does not then reproduce the labels, is broken somewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from im2markup.model.config import preset
from im2markup.model.factory import build_model
from model_samples import val_sample

pytestmark = pytest.mark.shared_data


def assert_memorises(arch: str, attention: str, im2latex_dir: Path, n: int, max_steps: int) -> None:
    """Train with Adam until greedy decoding reproduces all `n` labels; fail the test if that
    takes more than `max_steps` steps."""
    batch, vocab, gold = val_sample(im2latex_dir, n)
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch=arch, attention=attention), len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(1, max_steps + 1):
        model.train()
        loss = model.training_loss(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 0:
            model.eval()
            hypotheses = model.decode(batch["images"], max_len=20)
            if [h.token_ids for h in hypotheses] == gold:
                return
    pytest.fail(f"{arch}/{attention} did not reproduce {n} labels in {max_steps} steps")


def test_samples_are_real_short_formulas_of_one_bucket(im2latex_dir: Path) -> None:
    batch, _, gold = val_sample(im2latex_dir, 8)
    assert batch["images"].shape == (8, 1, 50, 120)
    assert batch["images"].dtype == torch.uint8
    # Mostly white with dark ink, as processed images are.
    assert batch["images"].float().mean() > 200 and batch["images"].min() < 50
    assert all(1 <= len(ids) <= 12 for ids in gold)
    assert batch["tgt_lengths"].tolist() == [len(ids) + 1 for ids in gold]


def test_standard_model_memorises_four_images(im2latex_dir: Path) -> None:
    assert_memorises("seq2seq", "standard", im2latex_dir, n=4, max_steps=200)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arch", "attention", "max_steps"),
    [
        ("seq2seq", "standard", 300),
        ("seq2seq", "hierarchical", 300),
        ("seq2seq", "sparsemax", 300),
        ("seq2seq", "coarse_only", 300),
        ("seq2seq", "hard", 1000),
        ("cnn_only", "standard", 300),
        ("ctc", "standard", 800),
    ],
)
def test_model_memorises_eight_images(
    arch: str, attention: str, max_steps: int, im2latex_dir: Path
) -> None:
    assert_memorises(arch, attention, im2latex_dir, n=8, max_steps=max_steps)
