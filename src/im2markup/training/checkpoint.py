"""Training checkpoints: written atomically, rotated, and complete enough to resume exactly.

A checkpoint is a plain dict saved with `torch.save` and read back with `weights_only=True`,
so loading one never executes pickled code. Every file is first written to a temporary name
in the same directory, flushed and fsynced, then moved over the old name with `os.replace`:
a process killed at any moment leaves either the previous checkpoint or the new one, never a
torn file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from im2markup.model.io import clean_state_dict

FORMAT_VERSION = 1
LAST = "last.pt"
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or belongs to a newer format."""


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems cannot open directories.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save(obj)` to `path` so that readers only ever see a complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _atomic_link(src: Path, dst: Path) -> None:
    """Point `dst` at the content of `src` atomically (hard link, else a copy)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)


def step_files(directory: Path) -> list[tuple[int, Path]]:
    """Rotated checkpoints in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _STEP_FILE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete half-written files left by a process that was killed while saving."""
    if directory.is_dir():
        for p in directory.glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def save_checkpoint(state: dict[str, Any], directory: Path, keep: int = 2) -> Path:
    """Write `step-N.pt` and make `last.pt` point at it; keep the `keep` newest step files."""
    directory = Path(directory)
    state = {"format_version": FORMAT_VERSION, **state}
    path = directory / f"step-{int(state['step']):08d}.pt"
    atomic_save(state, path)
    _atomic_link(path, directory / LAST)
    for _, old in step_files(directory)[: -max(keep, 1)]:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU without unpickling code, checking its format version."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"{path} is not a training checkpoint (no format_version)")
    if not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path} holds no model weights")
    version = state["format_version"]
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version}; this code reads up to {FORMAT_VERSION}"
        )
    state["model"] = clean_state_dict(state["model"])
    return state


def latest_checkpoint(directory: Path) -> dict[str, Any] | None:
    """The newest readable checkpoint in `directory`.

    Step files come first: a process killed between writing `step-N.pt` and pointing `last.pt`
    at it leaves the newer state in the step file.
    """
    directory = Path(directory)
    candidates = [p for _, p in reversed(step_files(directory))] + [directory / LAST]
    errors = []
    for path in candidates:
        if not path.exists():
            continue
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:
            errors.append(str(exc))
            continue
        if errors:  # resuming from an older state loses steps: say so
            log.warning("skipped unreadable checkpoints (%s); using %s", "; ".join(errors), path)
        return state
    if errors:
        raise CheckpointError("no readable checkpoint: " + "; ".join(errors))
    return None


def capture_rng() -> dict[str, Any]:
    """Python, NumPy and PyTorch (CPU and CUDA) random states, in a `weights_only`-safe form."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo `capture_rng`."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    # random.setstate needs tuples all the way down; serialisation may hand back lists.
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(v) for v in value)
    return value
