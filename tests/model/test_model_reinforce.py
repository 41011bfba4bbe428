"""REINFORCE for hard attention: returns, baseline, and the term in the model's loss."""

from __future__ import annotations

import pytest
import torch

from im2markup.data.vocab import Vocab
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.reinforce import discounted_returns, reinforce_loss
from model_samples import make_batch


def test_discounted_returns_by_hand() -> None:
    rewards = torch.tensor([[-1.0, -2.0, -4.0], [-1.0, -2.0, -4.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    returns = discounted_returns(rewards, mask, gamma=0.5)
    # Row 0: R2 = −4, R1 = −2 + ½·(−4) = −4, R0 = −1 + ½·(−4) = −3. Row 1 stops after step 1.
    assert returns.tolist() == [[-3.0, -4.0, -4.0], [-2.0, -2.0, 0.0]]


def test_loss_gradient_and_baseline_update() -> None:
    gold = torch.tensor([[-1.0, -2.0]])
    policy = torch.tensor([[-0.5, -0.7]], requires_grad=True)
    entropy = torch.tensor([[1.0, 1.0]], requires_grad=True)
    mask = torch.tensor([[True, True]])
    baseline = torch.tensor([-1.0, 0.0, 0.0])
    loss, stats = reinforce_loss(
        gold, policy, entropy, mask, baseline, 0.5, 0.01, 0.1, update_baseline=True
    )
    # Returns (−2, −2); advantages (−2 − (−1), −2 − 0) = (−1, −2); mean over 2 steps.
    loss.backward()
    assert policy.grad.tolist() == [[0.5, 1.0]]
    assert entropy.grad[0].tolist() == pytest.approx([-0.05, -0.05])
    assert baseline.tolist() == pytest.approx([-1.01, -0.02, 0.0])
    assert stats["reinforce_reward"] == -1.5 and stats["reinforce_return"] == -2.0


def test_hard_model_adds_the_policy_term_and_checkpoints_its_baseline() -> None:
    vocab = Vocab(["a", "b", "c"])
    torch.manual_seed(0)
    images = torch.randint(0, 256, (2, 1, 40, 96), dtype=torch.uint8)
    batch = make_batch(images, ["a b c", "c a"], vocab)
    model = build_model(preset("tiny", attention="hard"), len(vocab))
    assert "reinforce_baseline" in model.state_dict()
    out = model.training_loss(batch)
    assert out.n_tokens == 7
    assert {"nll", "reinforce_reward", "reinforce_baseline", "reinforce_entropy"} <= set(out.stats)
    assert out.loss.item() != pytest.approx(out.stats["nll"])
    baseline = model.reinforce_baseline.clone()
    assert baseline[:4].ne(0).all() and baseline[4:].eq(0).all()
    model.eval()
    model.training_loss(batch)
    assert torch.equal(model.reinforce_baseline, baseline)
    out.loss.backward()
    coarse = model.decoder.attention.coarse_scorer.beta.weight
    assert coarse.grad is not None and coarse.grad.abs().sum() > 0
