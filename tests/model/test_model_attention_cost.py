"""Cells scored per step by each attention variant, on real validation images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from im2markup.model.attention_cost import AttentionCost, measure_attention_cost
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from model_samples import val_sample

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def sample(im2latex_dir: Path) -> tuple[dict[str, torch.Tensor], int]:
    batch, vocab, _ = val_sample(im2latex_dir, 4)
    return batch, len(vocab)


def cost(attention: str, sample: tuple[dict[str, torch.Tensor], int]) -> AttentionCost:
    batch, vocab_size = sample
    torch.manual_seed(0)
    model = build_model(preset("tiny", attention=attention), vocab_size)
    return measure_attention_cost(model, [batch])


def test_counts_follow_each_variants_definition(
    sample: tuple[dict[str, torch.Tensor], int],
) -> None:
    # 50×120 images → a 6×15 fine grid (90 cells) → a 2×4 coarse grid (8 cells).
    standard = cost("standard", sample)
    assert (standard.fine_per_step, standard.coarse_per_step) == (90, 0)
    assert standard.fine_grid_cells == 90
    assert standard.steps == int(sample[0]["tgt_lengths"].sum())
    hierarchical = cost("hierarchical", sample)
    assert (hierarchical.fine_per_step, hierarchical.coarse_per_step) == (90, 8)
    # Blocks of 4×4 cells over 6×15: 16, 12 (right column), 8 (bottom row) or 6 (corner).
    hard = cost("hard", sample)
    assert hard.coarse_per_step == 8 and 6 <= hard.fine_per_step <= 16
    sparse = cost("sparsemax", sample)
    assert sparse.coarse_per_step == 8 and 8 <= sparse.fine_per_step <= 90
    coarse_only = cost("coarse_only", sample)
    assert (coarse_only.fine_per_step, coarse_only.coarse_per_step) == (0, 8)
