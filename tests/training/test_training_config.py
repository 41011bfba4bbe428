from pathlib import Path

import pytest
import torch

from im2markup.model.factory import build_model
from im2markup.paths import configs_dir
from im2markup.training.config import ConfigError, ExperimentConfig
from im2markup.training.config_files import load_config, to_toml
from im2markup.training.session import resume_conflicts

CONFIG_NAMES = sorted(p.stem for p in configs_dir().glob("*.toml"))


def n_params(cfg: ExperimentConfig, vocab_size: int = 500) -> float:
    with torch.device("meta"):
        model = build_model(cfg.model, vocab_size)
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_every_model_variant_has_a_config() -> None:
    expected = {"standard", "hierarchical", "sparsemax", "hard", "coarse_only", "cnn_only", "ctc"}
    assert expected | {"small", "debug"} <= set(CONFIG_NAMES)


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_loads_builds_and_round_trips_through_toml(name: str, tmp_path: Path) -> None:
    cfg = load_config(name)
    assert n_params(cfg) > 0
    written = tmp_path / "resolved.toml"
    written.write_text(to_toml(cfg), encoding="utf-8")
    assert load_config(written) == cfg


def test_configs_follow_the_paper_sizes_and_recipes() -> None:
    standard, hierarchical = load_config("standard"), load_config("hierarchical")
    # The paper: 9.48M (standard) and 15.85M (coarse-to-fine) parameters.
    assert 9.0 < n_params(standard) < 10.5
    assert 15.0 < n_params(hierarchical) < 18.0
    assert n_params(load_config("small")) < n_params(standard) / 3
    assert (standard.train.optimizer, standard.train.lr, standard.train.schedule) == (
        "sgd",
        0.1,
        "plateau",
    )
    assert standard.train.plateau_factor == 0.5 and standard.train.max_epochs == 12
    assert standard.decode.beam_size == 5


def test_extends_merges_tables_key_by_key() -> None:
    hard = load_config("hard")
    assert hard.model.attention == "hard"
    assert hard.model.coarse_factor == 4  # from hierarchical.toml
    assert hard.model.decoder_hidden == 512  # from standard.toml
    assert hard.train.lr == 0.005 and hard.train.optimizer == "sgd"


def test_overrides_are_parsed_as_toml_values() -> None:
    cfg = load_config(
        "small",
        [
            "train.lr=3e-4",
            "train.optimizer=sgd",
            "train.max_steps=7",
            "train.grad_clip=1",
            "train.compile=true",
            "model.cnn_widths=[8, 8, 16, 16, 32, 32]",
            'data.name="other"',
            "description=hello world",
        ],
    )
    assert cfg.train.lr == 3e-4 and cfg.train.optimizer == "sgd" and cfg.train.max_steps == 7
    assert cfg.train.grad_clip == 1.0 and isinstance(cfg.train.grad_clip, float)
    assert cfg.train.compile is True
    assert cfg.model.cnn_widths == (8, 8, 16, 16, 32, 32)
    assert cfg.data.name == "other" and cfg.description == "hello world"
    assert cfg.train.betas == (0.9, 0.999)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrate=1", "unknown keys ['lrate']"),
        ("training.lr=1", "unknown top-level keys ['training']"),
        ("train.max_steps=1.5", "train.max_steps = 1.5: expected int"),
        ("train.deterministic=1", "expected bool"),
        ("train.lr=fast", "expected float, got str"),
        ("train.optimizer=adam", "must be one of ['adamw', 'sgd']"),
        ("train.betas=[0.9]", "expected 2 values"),
        ("model.decoder_hiden=3", "unknown model config keys ['decoder_hiden']"),
        ("model.decoder_hidden=0", "decoder_hidden must be at least 1"),
        ("data.batch_size=0", "data.batch_size must be at least 1"),
        ("data.scale_range=[2.0, 1.0]", "data.scale_range must be [low, high]"),
        ("train.lr", "must look like section.key=value"),
        ("train.lr.x=1", "override 'train.lr.x=1': lr is not a table"),
    ],
)
def test_bad_values_and_unknown_keys_raise(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("small", [override])
    assert message in str(info.value)


def test_missing_file_invalid_toml_and_extends_cycle(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("no-such-config")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nlr = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cycle: a\.toml -> b\.toml -> a\.toml"):
        load_config(tmp_path / "a.toml")


def test_a_config_outside_configs_may_extend_a_bundled_one(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "small.toml"\n[train]\nlr = 0.002\n', encoding="utf-8")
    cfg = load_config(mine)
    assert cfg.train.lr == 0.002 and cfg.model == load_config("small").model


def test_resume_conflicts_name_architecture_fields_but_allow_training_ones() -> None:
    old = load_config("small")
    allowed = load_config("small", ["train.lr=1e-4", "model.dropout=0.2", "train.max_steps=9"])
    assert resume_conflicts(old, allowed) == []
    changed = load_config(
        "small", ["model.decoder_hidden=128", "model.attention=hierarchical", "data.batch_size=8"]
    )
    conflicts = resume_conflicts(old, changed)
    assert conflicts == [
        "model.attention: 'standard' → 'hierarchical'",
        "model.decoder_hidden: 256 → 128",
        "data.batch_size: 32 → 8",
    ]
