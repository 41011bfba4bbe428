"""Data-parallel training: every rank gets its share of every global batch; rank 0 writes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from im2markup.data.dataset import BucketBatchSampler
from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.distributed import ShardedBatches
from im2markup.training.logs import read_metrics
from training_fixtures import data_overrides, make_dataset


def test_ranks_split_every_global_batch_and_take_the_same_number_of_steps() -> None:
    rng = np.random.default_rng(0)
    heights = rng.integers(20, 60, 101)
    widths = rng.integers(60, 400, 101)

    def sampler() -> BucketBatchSampler:
        return BucketBatchSampler(heights, widths, batch_size=5, seed=3)

    global_batches = [[key.index for key in batch] for batch in sampler()]
    shares = [
        [[key.index for key in batch] for batch in ShardedBatches(sampler(), rank, 2)]
        for rank in (0, 1)
    ]
    assert len(shares[0]) == len(shares[1]) == len(global_batches)
    for batch, first, second in zip(global_batches, *shares, strict=True):
        if len(batch) >= 2:
            assert sorted(first + second) == sorted(batch) and not set(first) & set(second)
        else:
            assert first == second == batch
    assert len(ShardedBatches(sampler(), 1, 2)) == len(global_batches)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.shared_data
def test_two_gloo_processes_train_and_only_rank_zero_writes(
    tmp_path: Path, im2latex_dir: Path
) -> None:
    data_root = make_dataset(tmp_path / "data", im2latex_dir)
    runs = tmp_path / "runs"
    steps = 8
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "im2markup.cli.main",
        "train",
        "debug",
        "--name",
        "ddp",
        "--set",
        *data_overrides(data_root),
        f"train.max_steps={steps}",
        "train.val_every_steps=4",
    ]
    env = {**os.environ, "IM2MARKUP_RUNS": str(runs)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    run = runs / "ddp"
    state = load_checkpoint(run / "checkpoints" / LAST)
    assert state["step"] == steps and state["world_size"] == 2
    # One random state per rank, and the ranks draw different streams (seed + rank).
    assert len(state["rng"]) == 2
    assert not (state["rng"][0]["torch"] == state["rng"][1]["torch"]).all()
    # Both ranks walked the global batches of a single-process run: same sampler position.
    assert state["sampler"]["batches_done"] == steps and state["sampler"]["epoch"] == 0
    log = (run / "train.log").read_text(encoding="utf-8")
    assert log.count("starting run ddp") == 1 and "× 2 process(es)" in log
    kinds = [row["kind"] for row in read_metrics(run / "metrics.csv")]
    assert kinds.count("val") == 2 and kinds.count("train") == steps // 5
