"""`train.freeze`: the named modules leave a run exactly as they entered it, the rest trains."""

from pathlib import Path

import pytest
import torch

from im2markup.data.vocab import Vocab
from im2markup.model.factory import build_model
from im2markup.model.io import save_model
from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.config import ConfigError
from im2markup.training.config_files import load_config
from im2markup.training.freezing import freeze
from im2markup.training.session import train_run
from training_fixtures import DATASET, data_overrides, make_dataset

pytestmark = pytest.mark.shared_data


def test_frozen_encoder_and_its_statistics_stay_while_the_decoder_trains(
    tmp_path: Path, im2latex_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path / "runs"))
    data_root = make_dataset(tmp_path / "data", im2latex_dir)
    cfg = load_config("debug").model
    vocab = Vocab.load(data_root / DATASET / "vocab.txt")
    start = build_model(cfg, len(vocab))
    save_model(start, cfg, vocab, tmp_path / "start")
    before = start.state_dict()
    args = [*data_overrides(data_root), "train.max_steps=4", "train.val_every_steps=0"]
    train_run("frozen", "debug", [*args, 'train.freeze=["cnn"]'], init=tmp_path / "start")
    after = load_checkpoint(tmp_path / "runs" / "frozen" / "checkpoints" / LAST)["model"]
    cnn = [k for k in before if k.startswith("cnn.")]
    assert any("running_mean" in k for k in cnn), "the encoder has batch norm to hold"
    for key in cnn:
        assert torch.equal(before[key], after[key]), key
    moved = [k for k in before if not k.startswith("cnn.") and not torch.equal(before[k], after[k])]
    assert any(k.startswith("decoder.") for k in moved)
    log = (tmp_path / "runs" / "frozen" / "train.log").read_text(encoding="utf-8")
    assert "frozen: cnn" in log


def test_a_prefix_that_names_nothing_is_refused() -> None:
    model = build_model(load_config("debug").model, 20)
    with pytest.raises(ConfigError, match="'encoder'"):
        freeze(model, ["encoder"])
    assert freeze(model, ["cnn"]) == sum(p.numel() for p in model.cnn.parameters())
    assert all(not p.requires_grad for p in model.cnn.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())
