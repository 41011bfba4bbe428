"""A run stopped at any moment and resumed ends bitwise where an uninterrupted run ends."""

import signal
import time
from pathlib import Path

import pytest
import torch

from im2markup.model.io import read_config
from im2markup.training.checkpoint import LAST, latest_checkpoint, load_checkpoint, step_files
from im2markup.training.logs import read_metrics
from im2markup.training.loop import Progress, best_so_far
from im2markup.training.session import train_run
from im2markup.training.validate import ValidationResult
from training_fixtures import cli, data_overrides, make_dataset

pytestmark = pytest.mark.shared_data

STEPS = 20
STOP_AFTER = 5
VAL_EVERY = 7
# Augmented images drawn in a loader worker process.
AUGMENTED = ["data.augment=true", "data.num_workers=1"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"), im2latex_dir)


def overrides(data_root: Path, extra: list[str]) -> list[str]:
    # Dropout makes the result depend on the random streams, validation runs in between,
    # and a checkpoint follows every step so a kill can land in the middle of writing one.
    return [
        *data_overrides(data_root),
        f"train.max_steps={STEPS}",
        "train.checkpoint_every_steps=1",
        f"train.val_every_steps={VAL_EVERY}",
        "train.log_every_steps=3",
        "model.dropout=0.3",
        *extra,
    ]


def interrupt(runs: Path, args: list[str], sig: signal.Signals) -> int:
    """Start run `cut` in a child process and send `sig` once it has checkpointed a few steps."""
    child = cli(["train", "debug", "--run", "cut", "--set", *args], runs)
    ckpts = runs / "cut" / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(step >= STOP_AFTER for step, _ in step_files(ckpts)):
        assert child.poll() is None, child.stdout.read()
        assert time.monotonic() < deadline, "the child never reached the stop point"
        time.sleep(0.005)
    child.send_signal(sig)
    output, _ = child.communicate(timeout=120)
    if sig == signal.SIGTERM:
        assert child.returncode == 0, output
        assert "stopped at step" in output
    else:
        assert child.returncode == -signal.SIGKILL
    return latest_checkpoint(ckpts)["step"]


def straight_run(runs: Path, args: list[str]) -> tuple[Path, Progress]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IM2MARKUP_RUNS", str(runs))
        progress = train_run("straight", "debug", args)
    assert progress.step == STEPS
    return runs / "straight", progress


@pytest.fixture(scope="module")
def straight(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Progress]:
    """An uninterrupted run: its folder and final progress."""
    return straight_run(tmp_path_factory.mktemp("runs"), overrides(data_root, []))


def val_rows(run: Path) -> list[tuple]:
    keys = ("step", "images", "loss", "perplexity", "token_accuracy", "exact_match", "lr")
    rows = read_metrics(run / "metrics.csv")
    return [tuple(r[k] for k in keys) for r in rows if r["kind"] == "val"]


def interrupt_resume_and_compare(
    runs: Path, args: list[str], sig: signal.Signals, straight: tuple[Path, Progress]
) -> None:
    straight_dir, expected = straight
    stopped_at = interrupt(runs, args, sig)
    assert STOP_AFTER <= stopped_at < STEPS
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IM2MARKUP_RUNS", str(runs))
        resumed = train_run("cut", resume=True)
    assert (resumed.step, resumed.images, resumed.epoch) == (
        expected.step,
        expected.images,
        expected.epoch,
    )
    a = load_checkpoint(straight_dir / "checkpoints" / LAST)
    b = load_checkpoint(runs / "cut" / "checkpoints" / LAST)
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    moments = zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True)
    for sa, sb in moments:
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["sampler"] == b["sampler"] and a["schedule"] == b["schedule"]
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])
    # Validation figures logged before and after the interruption agree, without duplicates.
    assert val_rows(runs / "cut") == val_rows(straight_dir)
    assert len(val_rows(straight_dir)) == STEPS // VAL_EVERY + 1


@pytest.mark.parametrize(
    "sig",
    [signal.SIGKILL, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)],
    ids=["sigkill", "sigterm"],
)
def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(
    sig: signal.Signals, straight: tuple[Path, Progress], data_root: Path, tmp_path: Path
) -> None:
    interrupt_resume_and_compare(tmp_path, overrides(data_root, []), sig, straight)


@pytest.mark.slow
def test_resume_is_exact_with_augmentation_in_a_loader_worker(
    data_root: Path, tmp_path: Path
) -> None:
    args = overrides(data_root, AUGMENTED)
    reference = straight_run(tmp_path / "a", args)
    interrupt_resume_and_compare(tmp_path / "b", args, signal.SIGKILL, reference)


def test_resume_beats_the_exported_best_model_not_an_older_checkpointed_one(
    straight: tuple[Path, Progress], tmp_path: Path
) -> None:
    """`best/` is written at validation and the checkpoint after it: a kill in between leaves
    the checkpoint's best behind, and the exported model must still be the one to beat."""
    run, _ = straight
    _, _, metadata = read_config(run / "best")
    checkpointed = load_checkpoint(run / "checkpoints" / LAST)["best"]
    assert checkpointed["step"] == metadata["step"]
    older = {**checkpointed, "step": metadata["step"] - 1}
    for behind in (None, older):
        exported = best_so_far(behind, run / "best")
        assert exported is not None and exported["step"] == metadata["step"]
        result = ValidationResult(**exported["result"])
        assert result.exact_match == metadata["validation"]["exact_match"]
    later = {**checkpointed, "step": metadata["step"] + 1}
    assert best_so_far(later, run / "best") is later
    assert best_so_far(older, tmp_path / "no-best") is older
