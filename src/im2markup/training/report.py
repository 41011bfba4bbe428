"""What a run shows while it trains: the progress bar, log lines and metric rows.

Only the main process reports; the other ranks of a data-parallel run get a silent reporter.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from im2markup.training.logs import MetricsWriter, log
from im2markup.training.validate import ValidationResult


@dataclass
class _Window:
    """Sums over the steps since the last train row."""

    nll: float = 0.0
    tokens: float = 0.0
    correct: float = 0.0
    images: float = 0.0
    start: float = field(default_factory=time.monotonic)


class Reporter:
    """Accumulates step figures and writes them to the bar, `train.log` and `metrics.csv`."""

    def __init__(
        self, run_dir: Path, start_step: int, total_steps: int, enabled: bool, tensorboard: bool
    ):
        self.enabled = enabled
        self.metrics = MetricsWriter(run_dir, start_step, tensorboard) if enabled else None
        self.bar = tqdm(
            total=total_steps or None,
            initial=start_step,
            unit="step",
            file=sys.stderr,
            # None hides the bar when stderr is not a terminal (a background run's log file).
            disable=None if enabled else True,
            dynamic_ncols=True,
        )
        self.window = _Window()

    def add_step(self, nll: float, tokens: float, correct: float, images: float) -> None:
        """Figures of one step, already summed over ranks."""
        w = self.window
        w.nll += nll
        w.tokens += tokens
        w.correct += correct
        w.images += images
        self.bar.update(1)

    def train_row(self, step: int, epoch: int, images: int, lr: float, grad_norm: float) -> None:
        """Report the steps since the previous row and start a new window."""
        w, self.window = self.window, _Window()
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - w.start, 1e-9)
        loss = w.nll / max(w.tokens, 1.0)
        row: dict[str, Any] = {
            "time": round(time.time()),
            "kind": "train",
            "step": step,
            "epoch": epoch,
            "images": images,
            "lr": lr,
            "loss": loss,
            "perplexity": math.exp(min(loss, 50.0)),
            "token_accuracy": 100.0 * w.correct / max(w.tokens, 1.0),
            "images_per_s": w.images / elapsed,
            "seconds": elapsed,
        }
        self.metrics.write(row)
        self.bar.set_postfix(loss=f"{loss:.3f}", img_s=f"{row['images_per_s']:.1f}", refresh=False)
        log.info(
            "step %d epoch %d images %d: loss %.4f, token acc %.2f%%, lr %.3g, "
            "grad norm %.3g, %.1f img/s",
            step,
            epoch,
            images,
            loss,
            row["token_accuracy"],
            lr,
            grad_norm,
            row["images_per_s"],
        )

    def validation(
        self, step: int, epoch: int, images: int, lr: float, result: ValidationResult
    ) -> None:
        if not self.enabled:
            return
        log.info(
            "validation @ step %d: loss %.4f, ppl %.3f, token acc %.2f%%, exact match %.2f%% "
            "(%d images), BLEU %.2f, %.0f s",
            step,
            result.loss,
            result.perplexity,
            result.token_accuracy,
            result.exact_match,
            result.match_images,
            result.bleu,
            result.seconds,
        )
        for gold, predicted in result.examples:
            log.info("  gold: %s\n  pred: %s", gold, predicted)
        self.metrics.write(
            {
                "time": round(time.time()),
                "kind": "val",
                "step": step,
                "epoch": epoch,
                "images": images,
                "lr": lr,
                "loss": result.loss,
                "perplexity": result.perplexity,
                "token_accuracy": result.token_accuracy,
                "exact_match": result.exact_match,
                "bleu": result.bleu,
                "seconds": result.seconds,
            }
        )

    def close(self) -> None:
        self.bar.close()
        if self.metrics is not None:
            self.metrics.close()
