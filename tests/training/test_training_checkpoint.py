import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from im2markup.training.checkpoint import (
    FORMAT_VERSION,
    LAST,
    CheckpointError,
    atomic_save,
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temporaries,
    restore_rng,
    save_checkpoint,
    step_files,
)


def state(step: int) -> dict:
    return {"step": step, "model": {"module.w": torch.full((3,), float(step))}}


def test_rotation_keeps_the_newest_files_and_last_points_at_the_newest(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        save_checkpoint(state(step), tmp_path, keep=2)
    assert [s for s, _ in step_files(tmp_path)] == [30, 40]
    last = load_checkpoint(tmp_path / LAST)
    assert last["step"] == 40 and last["format_version"] == FORMAT_VERSION
    # The DDP prefix is stripped on loading.
    assert torch.equal(last["model"]["w"], torch.full((3,), 40.0))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_process_killed_while_writing_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    save_checkpoint(state(1), tmp_path)
    before = (tmp_path / LAST).read_bytes()
    # The child writes a big checkpoint and is SIGKILLed once the bytes are in the temporary
    # file but before they are synced and renamed into place.
    script = textwrap.dedent(
        f"""
        import os, signal, torch
        from pathlib import Path
        from im2markup.training.checkpoint import save_checkpoint
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        big = {{"step": 2, "model": {{"w": torch.randn(2_000_000)}}}}
        save_checkpoint(big, Path({str(tmp_path)!r}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert result.returncode == -9
    leftovers = list(tmp_path.glob(".*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 1_000_000
    assert (tmp_path / LAST).read_bytes() == before
    assert latest_checkpoint(tmp_path)["step"] == 1
    remove_stale_temporaries(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


def test_unreadable_last_falls_back_to_the_newest_readable_step_file(tmp_path: Path) -> None:
    save_checkpoint(state(5), tmp_path, keep=3)
    save_checkpoint(state(6), tmp_path, keep=3)
    (tmp_path / LAST).unlink()
    (tmp_path / LAST).write_bytes(b"not a checkpoint")
    (tmp_path / "step-00000006.pt").write_bytes(b"truncated")
    assert latest_checkpoint(tmp_path)["step"] == 5
    assert latest_checkpoint(tmp_path / "empty") is None


def test_foreign_and_newer_files_are_refused(tmp_path: Path) -> None:
    atomic_save({"weights": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="no format_version"):
        load_checkpoint(tmp_path / "plain.pt")
    atomic_save({**state(1), "format_version": FORMAT_VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="reads up to"):
        load_checkpoint(tmp_path / "new.pt")
    atomic_save({"format_version": FORMAT_VERSION, "step": 3}, tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match="no model weights"):
        load_checkpoint(tmp_path / "empty.pt")


def test_rng_states_survive_a_checkpoint_round_trip(tmp_path: Path) -> None:
    saved = capture_rng()
    first = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    path = save_checkpoint({**state(1), "rng": saved}, tmp_path)
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    restore_rng(load_checkpoint(path)["rng"])
    again = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    assert again == first
