"""Attention variants: shapes, normalisation, support sets, cell counts, sparsemax."""

from __future__ import annotations

import pytest
import torch

from im2markup.model.attention import ATTENTION, Attention, build_attention, register_attention
from im2markup.model.attention.base import AdditiveScorer, blocks_to_grid, to_blocks
from im2markup.model.attention.sparsemax import sparsemax

QUERY, VALUE, ATTN = 6, 5, 7
# A fine grid that does not divide by 4 (like 50×120 images: 6×15) and a 3×3 coarse grid.
FINE = (9, 10)
COARSE = (3, 3)


def make_inputs(batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    fine = torch.randn(batch, *FINE, VALUE, generator=generator)
    coarse = torch.randn(batch, *COARSE, VALUE, generator=generator)
    query = torch.randn(batch, QUERY, generator=generator)
    return fine, coarse, query


def build(name: str, seed: int = 0) -> Attention:
    torch.manual_seed(seed)
    return build_attention(name, query_dim=QUERY, value_dim=VALUE, attn_dim=ATTN, coarse_factor=4)


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_weights_are_a_distribution_over_the_fine_grid(name: str) -> None:
    attention = build(name)
    fine, coarse, query = make_inputs()
    memory = attention.prepare(fine, coarse)
    out = attention(query, memory)
    assert out.context.shape == (3, VALUE)
    assert out.weights.shape == (3, *FINE)
    assert (out.weights >= 0).all()
    torch.testing.assert_close(out.weights.sum((1, 2)), torch.ones(3))
    if attention.uses_coarse:
        assert out.coarse_weights.shape == (3, *COARSE)
        torch.testing.assert_close(out.coarse_weights.sum((1, 2)), torch.ones(3))
        assert out.n_coarse.tolist() == [9, 9, 9]
    else:
        assert out.coarse_weights is None and out.n_coarse.tolist() == [0, 0, 0]


@pytest.mark.parametrize("name", ["standard", "hierarchical"])
def test_dense_variants_score_every_cell_and_match_their_formula(name: str) -> None:
    attention = build(name)
    fine, coarse, query = make_inputs()
    out = attention(query, attention.prepare(fine, coarse))
    assert out.n_fine.tolist() == [90, 90, 90]
    # The context is the weighted sum of the fine values under the reported weights.
    expected = torch.einsum("bhw,bhwd->bd", out.weights, fine)
    torch.testing.assert_close(out.context, expected)


def test_hierarchical_is_coarse_times_fine_given_coarse() -> None:
    attention = build("hierarchical")
    fine, coarse, query = make_inputs()
    out = attention(query, attention.prepare(fine, coarse))
    # Each coarse cell's fine weights add up to its coarse weight.
    padded = torch.zeros(3, 12, 12)
    padded[:, :9, :10] = out.weights
    per_cell = padded.view(3, 3, 4, 3, 4).sum((2, 4))
    torch.testing.assert_close(per_cell, out.coarse_weights)


def test_sparsemax_fine_weights_stay_inside_kept_coarse_cells() -> None:
    attention = build("sparsemax")
    fine, coarse, query = make_inputs(batch=4)
    # Sharp coarse scores so that sparsemax drops some cells.
    with torch.no_grad():
        attention.coarse_scorer.beta.weight.mul_(20)
    out = attention(query, attention.prepare(fine, coarse))
    kept = out.coarse_weights > 0
    assert (~kept).any(), "sharpened scores should leave some coarse cells out"
    padded = torch.zeros(4, 12, 12)
    padded[:, :9, :10] = out.weights
    block_kept = kept.repeat_interleave(4, 1).repeat_interleave(4, 2)
    assert (padded[~block_kept] == 0).all()
    # Only the real fine cells of kept coarse cells were scored.
    real = torch.zeros(12, 12, dtype=torch.bool)
    real[:9, :10] = True
    expected = (block_kept & real).sum((1, 2))
    assert out.n_fine.tolist() == expected.tolist()
    assert (out.n_fine < 90).all()
    torch.testing.assert_close(out.context, torch.einsum("bhw,bhwd->bd", out.weights, fine))


@pytest.mark.parametrize("sample", [False, True])
def test_hard_attention_reads_one_coarse_cell(sample: bool) -> None:
    attention = build("hard")
    fine, coarse, query = make_inputs(batch=5)
    torch.manual_seed(1)
    out = attention(query, attention.prepare(fine, coarse), sample=sample)
    padded = torch.zeros(5, 12, 12)
    padded[:, :9, :10] = out.weights
    per_cell = padded.view(5, 3, 4, 3, 4).sum((2, 4)).flatten(1)
    assert ((per_cell > 0).sum(1) == 1).all()
    chosen = per_cell.argmax(1)
    if not sample:
        assert chosen.tolist() == out.coarse_weights.flatten(1).argmax(1).tolist()
    # Cells in the last block row/column are partly padding: 4×4, 4×2, 1×4 or 1×2 real cells.
    real_per_cell = torch.tensor([16, 16, 8, 16, 16, 8, 4, 4, 2])
    assert out.n_fine.tolist() == real_per_cell[chosen].tolist()
    log_prob = out.coarse_weights.flatten(1).gather(1, chosen[:, None]).log().squeeze(1)
    torch.testing.assert_close(out.extras["log_prob"], log_prob)
    assert (out.extras["entropy"] > 0).all()
    torch.testing.assert_close(out.context, torch.einsum("bhw,bhwd->bd", out.weights, fine))


def test_coarse_only_reads_the_coarse_values_under_its_coarse_weights() -> None:
    attention = build("coarse_only")
    fine, coarse, query = make_inputs()
    out = attention(query, attention.prepare(fine, coarse))
    assert out.n_fine.tolist() == [0, 0, 0]
    expected = torch.einsum("bhw,bhwd->bd", out.coarse_weights, coarse)
    torch.testing.assert_close(out.context, expected)


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_fine_mask_gives_masked_cells_zero_weight(name: str) -> None:
    attention = build(name)
    fine, coarse, query = make_inputs(batch=2)
    mask = torch.ones(2, *FINE, dtype=torch.bool)
    mask[0, :, 5:] = False
    mask[1, 4:, :] = False
    out = attention(query, attention.prepare(fine, coarse, fine_mask=mask))
    assert (out.weights[~mask] == 0).all()
    torch.testing.assert_close(out.weights.sum((1, 2)), torch.ones(2))
    if name in ("standard", "hierarchical"):
        assert out.n_fine.tolist() == [45, 40]


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_gradients_reach_every_parameter_used(name: str) -> None:
    attention = build(name)
    fine, coarse, query = make_inputs()
    fine.requires_grad_(True)
    query.requires_grad_(True)
    out = attention(query, attention.prepare(fine, coarse))
    loss = out.context.square().sum()
    if name == "hard":
        loss = loss + out.extras["log_prob"].sum()
    loss.backward()
    assert query.grad.abs().sum() > 0
    for param_name, param in attention.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


def test_memory_select_keeps_rows_aligned() -> None:
    attention = build("sparsemax")
    fine, coarse, query = make_inputs(batch=3)
    memory = attention.prepare(fine, coarse)
    index = torch.tensor([2, 2, 0])
    picked = attention(query[index], memory.select(index))
    full = attention(query, memory)
    torch.testing.assert_close(picked.context, full.context[index])
    assert memory.select(index).batch_size == 3


def test_blocks_round_trip_to_the_grid() -> None:
    grid = torch.arange(2 * 8 * 12, dtype=torch.float).view(2, 8, 12)
    blocks = to_blocks(grid, 4)
    assert blocks.shape == (2, 6, 16)
    # Block 1 is rows 0–3, columns 4–7.
    assert blocks[0, 1].tolist() == grid[0, :4, 4:8].flatten().tolist()
    assert torch.equal(blocks_to_grid(blocks, (2, 3), (7, 10), 4), grid[:, :7, :10])


def test_sparsemax_matches_hand_computed_values() -> None:
    # Support {1, 0.5}: τ = (1 + 0.5 − 1) / 2 = 0.25 → (0.75, 0.25, 0).
    out = sparsemax(torch.tensor([[1.0, 0.5, -1.0], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(out, torch.tensor([[0.75, 0.25, 0.0], [1 / 3, 1 / 3, 1 / 3]]))
    # Far-apart scores give a one-hot result; masked (minimum) scores get exactly zero.
    assert sparsemax(torch.tensor([5.0, 1.0, 0.0])).tolist() == [1.0, 0.0, 0.0]
    masked = torch.tensor([0.2, torch.finfo(torch.float32).min, 0.1])
    assert sparsemax(masked)[1] == 0 and torch.isclose(sparsemax(masked).sum(), torch.tensor(1.0))


def test_sparsemax_gradient_passes_gradcheck() -> None:
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(4, 7, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(sparsemax, (scores,), eps=1e-6, atol=1e-5)


def test_registry_rejects_duplicates_strangers_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_attention("standard")(type(build("standard")))
    with pytest.raises(TypeError, match="must subclass"):
        register_attention("not-an-attention")(dict)
    with pytest.raises(ValueError, match=r"coarse_only.*hard.*hierarchical.*sparsemax.*standard"):
        build_attention("softmax", query_dim=1, value_dim=1, attn_dim=1)


def test_scorer_computes_the_papers_additive_score() -> None:
    torch.manual_seed(0)
    scorer = AdditiveScorer(QUERY, VALUE, ATTN)
    fine, _, query = make_inputs()
    values = fine.flatten(1, 2)
    w1, w2, beta = scorer.query_proj, scorer.key_proj, scorer.beta.weight.squeeze(0)
    expected = torch.tanh(w1(query).unsqueeze(1) + w2(values)) @ beta
    torch.testing.assert_close(scorer(query, scorer.keys(values)), expected)
