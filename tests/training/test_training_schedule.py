import itertools
import math

import pytest
import torch

from im2markup.training.config_files import load_config
from im2markup.training.schedule import LRSchedule, build_optimizer


def make(overrides: list[str], total: int = 100) -> tuple[torch.optim.Optimizer, LRSchedule]:
    cfg = load_config("small", overrides).train
    optimizer = build_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg)
    return optimizer, LRSchedule(optimizer, cfg, total)


def lrs(schedule: LRSchedule, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step()
    return out


def test_linear_warmup_then_cosine_down_to_the_floor() -> None:
    _, schedule = make(["train.lr=1.0", "train.warmup_steps=10", "train.min_lr_ratio=0.1"], 110)
    seen = lrs(schedule, 111)
    assert seen[:10] == pytest.approx([(k + 1) / 10 for k in range(10)])
    assert seen[10] == pytest.approx(1.0)
    assert seen[60] == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the decay
    assert seen[110] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(seen[10:]))


def test_plateau_halves_only_when_perplexity_does_not_improve() -> None:
    paper = [
        "train.optimizer=sgd",
        "train.lr=0.1",
        "train.schedule=plateau",
        "train.warmup_steps=0",
    ]
    optimizer, schedule = make(paper)
    assert isinstance(optimizer, torch.optim.SGD)
    changes = [schedule.observe(ppl) for ppl in (20.0, 15.0, 15.0, 16.0, 12.0)]
    assert changes == [False, False, True, True, False]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    lrs(schedule, 5)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)

    _, restored = make(paper)
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr == pytest.approx(0.025) and restored.best_ppl == 12.0
    assert restored.observe(12.5) and restored.lr == pytest.approx(0.0125)


def test_cosine_and_constant_schedules_ignore_validation() -> None:
    _, schedule = make(["train.warmup_steps=0"])
    assert not schedule.observe(math.inf) and schedule.lr == pytest.approx(1e-3)
    _, constant = make(["train.schedule=constant", "train.warmup_steps=0"], total=3)
    assert lrs(constant, 10) == pytest.approx([1e-3] * 10)


def test_adamw_takes_its_settings_from_the_config() -> None:
    optimizer, _ = make(["train.betas=[0.8, 0.95]", "train.weight_decay=0.05"])
    group = optimizer.param_groups[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert group["betas"] == (0.8, 0.95) and group["weight_decay"] == 0.05
