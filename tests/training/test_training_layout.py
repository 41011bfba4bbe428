"""Channels-last memory layout changes how fast a run trains, not what it learns."""

from pathlib import Path

import pytest
import torch

from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.session import train_run
from training_fixtures import data_overrides, make_dataset

pytestmark = pytest.mark.shared_data

STEPS = 6


def run(runs: Path, name: str, data_root: Path, channels_last: bool, steps: int = STEPS) -> dict:
    args = [
        *data_overrides(data_root),
        f"train.max_steps={steps}",
        f"train.channels_last={str(channels_last).lower()}",
        "train.val_every_steps=0",
        # Plain SGD: Adam's normalised steps would magnify rounding in near-zero gradients.
        "train.optimizer=sgd",
        "train.lr=0.1",
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IM2MARKUP_RUNS", str(runs))
        train_run(name, "debug", args)
    return load_checkpoint(runs / name / "checkpoints" / LAST)


def test_channels_last_run_learns_the_same_weights(tmp_path: Path, im2latex_dir: Path) -> None:
    data_root = make_dataset(tmp_path / "data", im2latex_dir, n_train=24, n_val=8)
    plain = run(tmp_path / "runs", "plain", data_root, channels_last=False)
    pixel_major = run(tmp_path / "runs", "pixel-major", data_root, channels_last=True)
    # (With one input channel both layouts are the same, so those weights prove nothing.)
    convs = [k for k, v in pixel_major["model"].items() if v.dim() == 4 and v.size(1) > 1]
    assert convs
    for key in convs:
        assert pixel_major["model"][key].is_contiguous(memory_format=torch.channels_last), key
        assert not plain["model"][key].is_contiguous(memory_format=torch.channels_last), key
    assert plain["model"].keys() == pixel_major["model"].keys()
    # The layouts agree to rounding, far closer than the weights move in training.
    early = run(tmp_path / "runs", "early", data_root, channels_last=False, steps=1)
    for key, value in plain["model"].items():
        torch.testing.assert_close(pixel_major["model"][key], value, rtol=1e-3, atol=1e-4)
    moved = max(float((plain["model"][k] - early["model"][k]).abs().max()) for k in convs)
    assert moved > 1e-3
