"""Model configuration and the factory: serialisation, validation, registries."""

from __future__ import annotations

import json

import pytest

from im2markup.model.config import ModelConfig, preset
from im2markup.model.factory import MODELS, build_model, register_model


def test_config_round_trips_through_json() -> None:
    cfg = preset("small", attention="sparsemax", dropout=0.2)
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.cnn_widths == (64, 128, 256, 256, 512, 512)
    assert again.widths == (32, 64, 128, 128, 256, 256)


def test_defaults_are_the_papers_sizes() -> None:
    cfg = ModelConfig()
    assert (cfg.encoder_hidden, cfg.decoder_hidden, cfg.embed_dim) == (256, 512, 80)
    assert cfg.coarse_factor == 4 and cfg.reinforce_gamma == 0.5
    assert cfg.reinforce_baseline_rate == 0.01 and cfg.max_len >= 150


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hidden": 3}, "unknown model config keys"),
        ({"decoder_hidden": "512"}, "expects int"),
        ({"decoder_hidden": True}, "expects int"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"cnn_widths": [64, 128]}, "needs 6 conv widths"),
        ({"max_len": 0}, "max_len must be at least 1"),
    ],
)
def test_bad_configs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(data)


def test_ints_are_accepted_for_floats() -> None:
    assert ModelConfig.from_dict({"width_mult": 1}).width_mult == 1.0


def test_factory_names_the_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"\['cnn_only', 'ctc', 'seq2seq'\]"):
        build_model(ModelConfig(arch="transformer"), 50)
    with pytest.raises(ValueError, match="coarse_only"):
        build_model(ModelConfig(attention="local"), 50)
    with pytest.raises(ValueError, match="unknown model preset"):
        preset("huge")
    with pytest.raises(ValueError, match="already registered"):
        register_model("seq2seq")(MODELS["seq2seq"])


def test_paper_sizes_match_the_papers_parameter_counts() -> None:
    # The paper: 9.48 M (standard), 15.85 M (coarse-to-fine); a 500-token vocabulary here.
    standard = sum(p.numel() for p in build_model(preset("paper"), 500).parameters())
    hierarchical = build_model(preset("paper", attention="hierarchical"), 500)
    coarse = sum(p.numel() for p in hierarchical.parameters())
    assert 9.0e6 < standard < 10.5e6
    assert 15.5e6 < coarse < 17.5e6
