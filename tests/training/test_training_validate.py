"""Validation perplexity: the plain token likelihood, whatever label smoothing training uses."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from im2markup.data.dataset import FormulaDataset, collate
from im2markup.data.vocab import PAD_ID, Vocab
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.training.validate import fixed_subset, validate
from training_fixtures import DATASET, make_dataset


@pytest.mark.shared_data
def test_perplexity_is_exp_of_the_unsmoothed_cross_entropy(
    tmp_path: Path, im2latex_dir: Path
) -> None:
    root = make_dataset(tmp_path, im2latex_dir, n_train=8, n_val=8)
    vocab = Vocab.load(root / DATASET / "vocab.txt")
    val_set = FormulaDataset(root / DATASET / "val", vocab)
    batches = fixed_subset(val_set, 8, 4, seed=0)
    torch.manual_seed(0)
    model = build_model(preset("tiny", label_smoothing=0.1), len(vocab))
    # Peaked predictions (near-uniform ones score about the same with and without smoothing).
    with torch.no_grad():
        model.decoder.out.bias[vocab.stoi["{"]] += 8.0
    result = validate(
        model, val_set, batches, [], vocab, torch.device("cpu"), nullcontext, max_len=10
    )
    model.eval()
    plain = smoothed = tokens = 0.0
    with torch.no_grad():
        for indices in batches:
            batch = collate([val_set[i] for i in indices])
            tgt = batch["tgt"]
            memory = model.encode(batch["images"])
            logits, _ = model.decoder.teacher_force(tgt[:, :-1], memory)
            flat, targets = logits.float().flatten(0, 1), tgt[:, 1:].flatten()
            plain += float(F.cross_entropy(flat, targets, ignore_index=PAD_ID, reduction="sum"))
            smoothed += float(
                F.cross_entropy(
                    flat, targets, ignore_index=PAD_ID, label_smoothing=0.1, reduction="sum"
                )
            )
            tokens += float((targets != PAD_ID).sum())
    assert result.loss_images == 8
    assert result.perplexity == pytest.approx(math.exp(plain / tokens), rel=1e-4)
    assert result.perplexity != pytest.approx(math.exp(smoothed / tokens), rel=0.1)
