"""`im2markup train` end to end on a tiny real dataset: files of a run, status, background."""

import os
import signal
import time
from pathlib import Path

import pytest
import torch

from im2markup.cli.main import main
from im2markup.data.dataset import FormulaDataset, collate
from im2markup.model.io import load_model_dir
from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.config_files import load_config
from im2markup.training.logs import read_metrics
from im2markup.training.runs import is_locked, read_pid
from training_fixtures import DATASET, data_overrides, make_dataset

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"), im2latex_dir)


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_a_run_writes_its_config_logs_metrics_checkpoint_and_best_model(
    data_root: Path, runs: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [*data_overrides(data_root), "train.max_steps=20", "train.lr=1e-2"]
    args.append("train.tensorboard=true")
    assert main(["train", "debug", "--run", "r1", "--set", *args]) == 0
    run = runs / "r1"
    assert load_config(run / "config.toml") == load_config("debug", args)
    assert "finished at step 20" in (run / "train.log").read_text(encoding="utf-8")
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))

    rows = read_metrics(run / "metrics.csv")
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    assert [int(r["step"]) for r in train] == [5, 10, 15, 20]
    assert [int(r["step"]) for r in val] == [10, 20]
    assert float(train[-1]["loss"]) < float(train[0]["loss"]) - 0.5
    assert float(val[-1]["perplexity"]) < float(val[0]["perplexity"])

    state = load_checkpoint(run / "checkpoints" / LAST)
    assert state["step"] == 20 and state["images"] == int(train[-1]["images"])
    assert state["best"]["step"] in (10, 20)

    model, cfg, vocab = load_model_dir(run / "best")
    assert cfg == load_config("debug").model and vocab.itos == state["vocab"]
    val_set = FormulaDataset(data_root / DATASET / "val", vocab)
    batch = collate([val_set[0]])
    hyp = model.decode(batch["images"], beam_size=1, max_len=20)[0]
    assert len(hyp.token_ids) <= 20 and all(0 <= t < len(vocab) for t in hyp.token_ids)

    capsys.readouterr()
    assert main(["train", "--status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("r1: stopped; step 20, epoch 1,")
    assert "last val @ step 20" in out and "best exact match" in out


def test_usage_errors_exit_with_status_2_and_a_reason(
    data_root: Path, runs: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [*data_overrides(data_root), "train.max_steps=2", "train.val_every_steps=0"]
    assert main(["train", "debug", "--run", "r2", "--set", *args]) == 0
    capsys.readouterr()
    cases = [
        (["train", "debug", "--run", "r2"], "already has checkpoints"),
        (["train", "--resume", "r2", "--set", "model.decoder_hidden=64"], "decoder_hidden: 32"),
        (["train", "--resume", "nothing"], "no checkpoint to resume from"),
        (["train", "debug"], "give either CONFIG --run NAME"),
        (["train", "--run", "r5", "--background"], "give a config file to start a run"),
        (["train", "debug", "--run", "a/b"], "run name 'a/b'"),
        (["train", "debug", "--run", "r3", "--set", "train.lr=x"], "train.lr = 'x'"),
        (["train", "--status", "nothing"], "no run named 'nothing'"),
        (["train", "debug", "--run", "r4", "--init", "/nonexistent"], "not a model directory"),
        (["train", "--resume", "r2", "--init", "/nonexistent"], "cannot be combined"),
    ]
    for argv, reason in cases:
        assert main(argv) == 2, argv
        assert reason in capsys.readouterr().err, argv
    assert main(["train", "--resume", "r2", "--set", "train.max_steps=4"]) == 0
    assert load_checkpoint(runs / "r2" / "checkpoints" / LAST)["step"] == 4


def _check_running_in_the_background(
    run: Path, pid: int, out: str, capsys: pytest.CaptureFixture
) -> None:
    assert read_pid(run) == pid and str(run / "train.log") in out
    deadline = time.monotonic() + 120
    while not read_metrics(run / "metrics.csv"):  # training steps are being taken
        assert time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0)
        time.sleep(0.05)
    assert is_locked(run)
    assert os.getpriority(os.PRIO_PROCESS, pid) == 19
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():  # its own session must not get a full CPU share
        assert autogroup.read_text().split()[-1] == "19"
    assert main(["train", "--status", "bg"]) == 0
    assert capsys.readouterr().out.startswith(f"bg: running (pid {pid})")


def test_background_run_detaches_at_nice_19_and_stops_cleanly_on_sigterm(
    data_root: Path, runs: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [*data_overrides(data_root), "train.max_steps=100000", "train.val_every_steps=0"]
    assert main(["train", "debug", "--run", "bg", "--background", "--set", *args]) == 0
    out = capsys.readouterr().out
    pid = int(out.split("pid ")[1].split()[0])
    try:
        _check_running_in_the_background(runs / "bg", pid, out, capsys)
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # a detached run must not outlive a failed test
        os.waitpid(pid, 0)
        raise
    run = runs / "bg"
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "nice 19" in log and "received SIGTERM" in log
    step = torch.load(run / "checkpoints" / LAST, weights_only=True)["step"]
    assert f"stopped at step {step}; continue with --resume bg" in log
    assert main(["train", "--status", "bg"]) == 0
    assert capsys.readouterr().out.startswith("bg: stopped")


def test_paper_recipe_validates_once_per_epoch_and_stops_after_max_epochs(
    data_root: Path, runs: Path
) -> None:
    args = [
        *data_overrides(data_root),
        "train.max_steps=0",
        "train.max_epochs=2",
        "train.optimizer=sgd",
        "train.lr=0.1",
        "train.schedule=plateau",
        "train.warmup_steps=0",
        "train.val_every_steps=0",
    ]
    assert main(["train", "debug", "--run", "sgd", "--set", *args]) == 0
    state = load_checkpoint(runs / "sgd" / "checkpoints" / LAST)
    assert state["sampler"]["epoch"] == 2 and state["sampler"]["batches_done"] == 0
    val = [r for r in read_metrics(runs / "sgd" / "metrics.csv") if r["kind"] == "val"]
    assert [int(r["epoch"]) for r in val] == [0, 1]
    assert int(val[1]["step"]) == state["step"] == 2 * int(val[0]["step"])
    # A complete run resumed without new limits has nothing left to do.
    assert main(["train", "--resume", "sgd"]) == 0
    assert load_checkpoint(runs / "sgd" / "checkpoints" / LAST)["step"] == state["step"]
    assert "nothing to do" in (runs / "sgd" / "train.log").read_text(encoding="utf-8")
