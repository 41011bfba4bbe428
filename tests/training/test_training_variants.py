"""Every bundled config trains (a few steps, shrunk to a tiny size) and validates."""

from pathlib import Path

import pytest

from im2markup.paths import configs_dir
from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.logs import read_metrics
from im2markup.training.session import train_run
from training_fixtures import data_overrides, make_dataset

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

TINY = [
    "model.width_mult=0.125",
    "model.encoder_hidden=16",
    "model.decoder_hidden=32",
    "model.embed_dim=16",
    "model.attention_dim=32",
    "data.batch_size=4",
    "train.max_steps=3",
    "train.max_epochs=0",
    "train.threads=1",
    "train.val_loss_samples=8",
    "train.val_match_samples=4",
    "train.tensorboard=false",
    "decode.max_len=30",
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"), im2latex_dir, n_train=24, n_val=8)


@pytest.mark.parametrize("name", sorted(p.stem for p in configs_dir().glob("*.toml")))
def test_config_trains_in_bf16_and_validates(
    name: str, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path))
    progress = train_run("v", name, [*data_overrides(data_root), *TINY, "train.precision=bf16"])
    assert progress.step == 3
    state = load_checkpoint(tmp_path / "v" / "checkpoints" / LAST)
    assert state["config"]["train"]["optimizer"] in ("sgd", "adamw")
    val = [r for r in read_metrics(tmp_path / "v" / "metrics.csv") if r["kind"] == "val"]
    assert len(val) == 1 and float(val[0]["loss"]) > 0
    assert (tmp_path / "v" / "best" / "model.safetensors").is_file()
