"""Saving and loading a model directory: identical outputs, bf16, wrapper prefixes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from im2markup.data.vocab import Vocab
from im2markup.model.config import DecodeConfig, preset
from im2markup.model.factory import build_model
from im2markup.model.io import (
    clean_state_dict,
    load_model_dir,
    read_config,
    read_decode_config,
    save_model,
)
from model_samples import load_val_images

VOCAB = Vocab(["x", "=", "{", "}", "^", "2", "\\alpha"])


@pytest.fixture(scope="module")
def images(im2latex_dir: Path) -> torch.Tensor:
    return load_val_images(im2latex_dir, (416, 4130))


def trained_looking(arch: str, attention: str) -> torch.nn.Module:
    """A random model whose batch-norm statistics are not the defaults."""
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch=arch, attention=attention), len(VOCAB))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("arch", "attention"), [("seq2seq", "hard"), ("cnn_only", "standard"), ("ctc", "standard")]
)
def test_round_trip_gives_identical_outputs(
    arch: str, attention: str, images: torch.Tensor, tmp_path: Path
) -> None:
    model = trained_looking(arch, attention)
    cfg = preset("tiny", arch=arch, attention=attention)
    save_model(model, cfg, VOCAB, tmp_path / "m", metadata={"step": 12})
    loaded, loaded_cfg, loaded_vocab = load_model_dir(tmp_path / "m")
    assert loaded_cfg == cfg and loaded_vocab == VOCAB and not loaded.training
    assert read_config(tmp_path / "m")[2] == {"step": 12}
    before = model.decode(images, beam_size=2, max_len=8)
    after = loaded.decode(images, beam_size=2, max_len=8)
    assert [h.token_ids for h in before] == [h.token_ids for h in after]
    assert [h.score for h in before] == [h.score for h in after]
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


@pytest.mark.shared_data
def test_bf16_weights_are_half_the_size_and_close(images: torch.Tensor, tmp_path: Path) -> None:
    model = trained_looking("seq2seq", "standard")
    cfg = preset("tiny")
    save_model(model, cfg, VOCAB, tmp_path / "fp32")
    save_model(model, cfg, VOCAB, tmp_path / "bf16", bf16=True)
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    size16 = (tmp_path / "bf16" / "model.safetensors").stat().st_size
    assert size16 < 0.55 * size32
    loaded, _, _ = load_model_dir(tmp_path / "bf16")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        expected = model.encode(images).fine_values
        got = loaded.encode(images).fine_values
    torch.testing.assert_close(got, expected, atol=0.05, rtol=0.05)


def test_wrapped_models_save_plain_keys(tmp_path: Path) -> None:
    model = trained_looking("seq2seq", "standard")
    assert clean_state_dict({"module._orig_mod.cnn.w": torch.ones(1)}) == {"cnn.w": torch.ones(1)}
    wrapper = torch.nn.Module()
    wrapper.module = model
    save_model(wrapper, preset("tiny"), VOCAB, tmp_path)
    loaded, _, _ = load_model_dir(tmp_path)
    assert set(loaded.state_dict()) == set(model.state_dict())


def test_bad_directories_fail_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_model_dir(tmp_path)
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model_dir(tmp_path)
    model = trained_looking("seq2seq", "standard")
    save_model(model, preset("tiny"), VOCAB, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    config["model"]["decoder_hidden"] = 65
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="weights do not fit"):
        load_model_dir(tmp_path)
    config["model"] = {"arch": "seq2seq", "colour": "blue"}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown model config keys"):
        load_model_dir(tmp_path)
    config["model"] = preset("tiny").to_dict()
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"not tensors")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_model_dir(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        load_model_dir(tmp_path)


def test_decode_settings_travel_with_the_weights(tmp_path: Path) -> None:
    model = trained_looking("seq2seq", "standard")
    save_model(model, preset("tiny"), VOCAB, tmp_path / "with", decode=DecodeConfig(3, 40))
    save_model(model, preset("tiny"), VOCAB, tmp_path / "without")
    assert read_decode_config(tmp_path / "with") == DecodeConfig(beam_size=3, max_len=40)
    assert read_decode_config(tmp_path / "without") == DecodeConfig()
    config = tmp_path / "with" / "config.json"
    raw = json.loads(config.read_text())
    for bad in ({"beam_size": 0}, {"beam": 5}, {"max_len": "long"}, [5]):
        config.write_text(json.dumps({**raw, "decode": bad}))
        with pytest.raises(ValueError, match="decode"):
            read_decode_config(tmp_path / "with")
