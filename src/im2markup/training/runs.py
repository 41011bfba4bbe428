"""Run directories under `runs_dir()`: naming, one-trainer-at-a-time locks, detached background
launches and the `--status` summary.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from im2markup.paths import runs_dir
from im2markup.training.checkpoint import LAST
from im2markup.training.logs import LOG_NAME, METRICS_NAME, read_metrics

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PID_NAME = "pid"
LOCK_NAME = "lock"
CHECKPOINT_DIR = "checkpoints"


class RunError(RuntimeError):
    """A run that cannot be created, resumed or locked, with the reason."""


def run_path(name: str, root: Path | None = None) -> Path:
    """`<runs>/<name>`; the name is a plain file name so a run never writes outside `runs_dir()`."""
    if not _NAME.match(name) or name in (".", ".."):
        raise RunError(
            f"run name {name!r} must be letters, digits, '.', '_' or '-' (at most 100, "
            "not starting with a punctuation mark)"
        )
    return (root or runs_dir()) / name


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run for the life of a training process.

    The lock dies with the process (even on SIGKILL), so a stale lock never blocks a resume.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOCK_NAME, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = read_pid(run_dir)
            raise RunError(
                f"run {run_dir.name} is already being trained"
                + (f" by process {pid}" if pid else "")
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock."""
    path = run_dir / LOCK_NAME
    if not path.exists():
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[str], None]) -> Iterator[None]:
    """Turn SIGTERM/SIGINT into `request_stop(name)`; a second signal interrupts at once."""
    requested = False

    def handler(signum: int, _frame: object) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        request_stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def write_pid(run_dir: Path, pid: int | None = None) -> None:
    """Record which process trains the run, so `--status` and a second start can find it."""
    (run_dir / PID_NAME).write_text(f"{pid or os.getpid()}\n", encoding="utf-8")


def read_pid(run_dir: Path) -> int | None:
    """The recorded training process (`None` when none was recorded or the file is damaged)."""
    try:
        return int((run_dir / PID_NAME).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def launch_background(argv: list[str], run_dir: Path) -> int:
    """Run `im2markup <argv>` detached at nice 19, output to `<run>/train.log`; returns the PID."""
    run_dir.mkdir(parents=True, exist_ok=True)
    command = ["nice", "-n", "19", sys.executable, "-m", "im2markup.cli.main", *argv]
    with open(run_dir / LOG_NAME, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    lower_session_priority(process.pid)
    write_pid(run_dir, process.pid)
    return process.pid


def lower_session_priority(pid: int, nice: int = 19) -> None:
    """Give the session led by `pid` the weight of `nice` (where the kernel has autogroups).
    With autogroup scheduling (most Linux systems) every session gets an equal CPU share and
    nice only ranks threads inside one, so a detached run at nice 19 would otherwise still
    take half the CPU from the work in the foreground."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice), encoding="utf-8")


def _last(rows: list[dict[str, str]], kind: str) -> dict[str, str] | None:
    return next((r for r in reversed(rows) if r.get("kind") == kind), None)


def describe(run_dir: Path) -> str:
    """One line about a run: running or not, progress, last and best validation."""
    rows = read_metrics(run_dir / METRICS_NAME)
    running = is_locked(run_dir)
    pid = read_pid(run_dir)
    state = f"running (pid {pid})" if running and pid else "running" if running else "stopped"
    train, val = _last(rows, "train"), _last(rows, "val")
    parts = [f"{run_dir.name}: {state}"]
    if train:
        parts.append(
            f"step {train['step']}, epoch {train['epoch']}, {int(float(train['images'])):,} images"
            f", loss {train['loss']}"
        )
    if val:
        parts.append(
            f"last val @ step {val['step']}: ppl {val['perplexity']}, "
            f"token acc {val['token_accuracy']}%, exact match {val['exact_match']}%"
        )
    vals = [r for r in rows if r.get("kind") == "val" and r.get("exact_match")]
    if vals:
        best = max(vals, key=lambda r: (float(r["exact_match"]), -float(r["perplexity"])))
        parts.append(f"best exact match {best['exact_match']}% @ step {best['step']}")
    ckpt = run_dir / CHECKPOINT_DIR / LAST
    if ckpt.exists():
        age = time.time() - ckpt.stat().st_mtime
        parts.append(f"checkpoint {age / 60:.0f} min old")
    elif not rows:
        parts.append("no checkpoint yet")
    return "; ".join(parts)


def status(name: str | None = None, root: Path | None = None) -> str:
    """The `describe` line of one run, or of every run under `runs_dir()`."""
    root = root or runs_dir()
    if name is not None:
        path = run_path(name, root)
        if not path.is_dir():
            raise RunError(f"no run named {name!r} in {root}")
        return describe(path)
    runs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not runs:
        return f"no runs in {root}"
    return "\n".join(describe(p) for p in runs)
