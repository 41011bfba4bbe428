"""Where a run reports: `train.log`, `metrics.csv` and (when installed) TensorBoard."""

from __future__ import annotations

import csv
import logging
import os
import sys
from pathlib import Path
from typing import Any

LOG_NAME = "train.log"
METRICS_NAME = "metrics.csv"
COLUMNS = (
    "time",
    "kind",
    "step",
    "epoch",
    "images",
    "lr",
    "loss",
    "perplexity",
    "token_accuracy",
    "exact_match",
    "bleu",
    "images_per_s",
    "seconds",
)

log = logging.getLogger("im2markup.training")


def _stderr_is(path: Path) -> bool:
    """True when stderr already writes to `path` (a background run redirects it there)."""
    try:
        return path.exists() and os.path.samestat(os.fstat(sys.stderr.fileno()), os.stat(path))
    except (OSError, ValueError, AttributeError):
        return False


def close_logging() -> None:
    """Detach and close the handlers `setup_logging` added."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def setup_logging(run_dir: Path | None, main_process: bool = True) -> None:
    """Send the training logger to stderr and, on the main process, to `<run>/train.log`.

    Other ranks of a data-parallel run only report warnings and errors.
    """
    log.setLevel(logging.INFO if main_process else logging.WARNING)
    log.propagate = False
    close_logging()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    log.addHandler(stream)
    if run_dir is not None and main_process:
        path = run_dir / LOG_NAME
        if not _stderr_is(path):
            file_handler = logging.FileHandler(path, encoding="utf-8")
            file_handler.setFormatter(fmt)
            log.addHandler(file_handler)


def truncate_metrics(path: Path, after_step: int) -> None:
    """Drop rows logged after `after_step`: a resumed run recomputes them identically."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if r.get("step", "").isdigit() and int(r["step"]) <= after_step]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
    os.replace(tmp, path)


def read_metrics(path: Path) -> list[dict[str, str]]:
    """All rows of a `metrics.csv` (an empty list when there is none yet)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class MetricsWriter:
    """Appends rows to `metrics.csv` and mirrors scalars to TensorBoard when it is available."""

    def __init__(self, run_dir: Path, resume_step: int, tensorboard: bool):
        self.path = run_dir / METRICS_NAME
        truncate_metrics(self.path, resume_step)
        new = not self.path.exists()
        self._file = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.info("tensorboard is not installed; metrics go to %s only", self.path)
            else:
                self._tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step + 1)

    def write(self, row: dict[str, Any]) -> None:
        self._csv.writerow({k: _fmt(v) for k, v in row.items()})
        self._file.flush()
        if self._tb is not None:
            kind, step = row["kind"], int(row["step"])
            for key, value in row.items():
                if key not in ("time", "kind", "step") and isinstance(value, int | float):
                    self._tb.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value
