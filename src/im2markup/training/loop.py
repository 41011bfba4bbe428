"""The training loop: steps, periodic validation, checkpoints and clean stops.

Everything that decides the next parameter update (model, optimizer, schedule, sampler
position, RNG states) is in the checkpoint, and nothing outside it (wall clock, validation)
changes those, so a run stopped at any point and resumed from its last checkpoint retraces
the updates of an uninterrupted run exactly. The order at the end of a step is fixed:
log, validate, checkpoint; a checkpoint therefore never precedes a validation of its own
step that influenced the schedule.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.contrib.logging import logging_redirect_tqdm

from im2markup.data.dataset import BucketBatchSampler, FormulaDataset, collate
from im2markup.data.vocab import Vocab
from im2markup.model.io import read_config, save_model
from im2markup.training.checkpoint import capture_rng, restore_rng, save_checkpoint
from im2markup.training.config import ExperimentConfig
from im2markup.training.distributed import DistContext, ShardedBatches, all_sum, broadcast, gather
from im2markup.training.logs import log
from im2markup.training.report import Reporter
from im2markup.training.runs import stop_on_signals
from im2markup.training.schedule import LRSchedule
from im2markup.training.validate import ValidationResult, fixed_subset, validate

MAX_BAD_STEPS = 20


class TrainingError(RuntimeError):
    """Training cannot go on (for instance, the loss stays non-finite)."""


@dataclass
class Progress:
    """Counters of a run, saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batches_done: int = 0
    images: int = 0
    train_seconds: float = 0.0


def best_so_far(best: dict[str, Any] | None, best_dir: Path) -> dict[str, Any] | None:
    """The best validation to beat on resuming: the checkpoint's, unless `best_dir` holds a
    later one (it is exported at validation, the checkpoint follows later; a kill in between
    would otherwise let a worse model overwrite it)."""
    try:
        _, _, metadata = read_config(best_dir)
    except (OSError, ValueError):
        return best
    step, figures = metadata.get("step"), metadata.get("validation")
    if not isinstance(step, int) or not isinstance(figures, dict):
        return best
    if best is not None and best["step"] >= step:
        return best
    return {"step": step, "result": {**figures, "examples": ()}}


class Trainer:
    """Owns one run's model, optimizer, schedule and data order, and trains until told to stop."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        run_dir: Path,
        ctx: DistContext,
        model: torch.nn.Module,
        vocab: Vocab,
        train_set: FormulaDataset,
        val_set: FormulaDataset | None,
        sampler: BucketBatchSampler,
        optimizer: torch.optim.Optimizer,
        schedule: LRSchedule,
    ):
        self.cfg, self.run_dir, self.ctx = cfg, run_dir, ctx
        self.model, self.vocab = model, vocab
        self.train_set, self.val_set = train_set, val_set
        self.sampler, self.optimizer, self.schedule = sampler, optimizer, schedule
        self.progress = Progress()
        self.best: dict[str, Any] | None = None
        self.stop_requested = False
        tc = cfg.train
        if tc.channels_last:
            # In place, before DDP sees the parameters: the optimizer keeps its parameters,
            # and checkpoints load into them.
            model.to(memory_format=torch.channels_last)
        self.forward: Callable[[dict[str, torch.Tensor]], Any] = model
        if ctx.enabled:
            self.forward = torch.nn.parallel.DistributedDataParallel(
                model,
                device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                find_unused_parameters=tc.ddp_find_unused,
            )
        if tc.compile:
            # The convolutional encoder carries most of the arithmetic; the decoder's Python
            # loop over time steps would take many minutes to trace, so it stays eager.
            # Compiling in place keeps the state-dict keys unchanged.
            model.get_submodule("cnn").compile(dynamic=True)
        self.batches = ShardedBatches(sampler, ctx.rank, ctx.world_size)
        self.loader = DataLoader(
            train_set,
            batch_sampler=self.batches,
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            pin_memory=ctx.device.type == "cuda",
            # A private generator: creating an iterator must not consume the global RNG state.
            generator=torch.Generator().manual_seed(tc.seed),
        )
        self.val_loss_batches: list[list[int]] = []
        self.val_match_batches: list[list[int]] = []
        if val_set is not None:
            self.val_loss_batches = fixed_subset(
                val_set, tc.val_loss_samples, tc.val_batch_size, tc.seed
            )
            self.val_match_batches = fixed_subset(
                val_set, tc.val_match_samples, tc.val_batch_size, tc.seed + 1
            )

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint content (collective: every rank must call it)."""
        rng = gather(capture_rng(), self.ctx)
        return {
            **asdict(self.progress),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "sampler": self.sampler.state_dict(batches_done=self.progress.batches_done),
            "rng": rng,
            "best": self.best,
            "config": self.cfg.to_dict(),
            "vocab": list(self.vocab.itos),
            "world_size": self.ctx.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.sampler.load_state_dict(state["sampler"])
        # Epoch and position as the sampler sees them: a finished epoch has rolled over.
        self.progress = Progress(
            step=int(state["step"]),
            epoch=int(state["sampler"]["epoch"]),
            batches_done=int(state["sampler"]["batches_done"]),
            images=int(state["images"]),
            train_seconds=float(state["train_seconds"]),
        )
        self.best = best_so_far(state["best"], self.run_dir / "best")
        rngs = state["rng"]
        if len(rngs) == self.ctx.world_size:
            restore_rng(rngs[self.ctx.rank])
        else:
            log.warning(
                "checkpoint from %d processes resumed on %d: data order and parameters "
                "continue, random streams restart from the seed",
                len(rngs),
                self.ctx.world_size,
            )

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(
            self.ctx.device.type,
            dtype=torch.bfloat16,
            enabled=self.cfg.train.precision == "bf16",
        )

    def _request_stop(self, signal_name: str) -> None:
        log.info("received %s: saving a checkpoint and stopping", signal_name)
        self.stop_requested = True

    def save(self) -> None:
        state = self.state_dict()
        if self.ctx.is_main:
            path = save_checkpoint(
                state, self.run_dir / "checkpoints", keep=self.cfg.train.keep_checkpoints
            )
            log.info("checkpoint %s (step %d)", path.name, self.progress.step)

    def _step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float, float, float]:
        device = self.ctx.device
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with self.autocast():
            out = self.forward(batch)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        clip = self.cfg.train.grad_clip
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else math.inf)
        # The norm is computed from all-reduced gradients, so every rank takes the same branch.
        if torch.isfinite(norm):
            self.optimizer.step()
        self.schedule.step()
        n = float(out.n_tokens)
        nll = out.stats["nll"]
        return nll * n, n, float(out.n_correct), float(norm)

    def _validate(self, for_schedule: bool) -> None:
        if self.val_set is None:
            return
        result: ValidationResult | None = None
        if self.ctx.is_main:
            rng = capture_rng()
            result = validate(
                self.model,
                self.val_set,
                self.val_loss_batches,
                self.val_match_batches,
                self.vocab,
                self.ctx.device,
                self.autocast,
                self.cfg.decode.max_len,
            )
            restore_rng(rng)
            p = self.progress
            self.reporter.validation(p.step, p.epoch, p.images, self.schedule.lr, result)
            self._keep_if_best(result)
        perplexity = broadcast(result.perplexity if result else math.nan, self.ctx)
        if for_schedule and self.schedule.observe(perplexity):
            log.info("validation perplexity did not improve: lr lowered to %.3g", self.schedule.lr)

    def _keep_if_best(self, result: ValidationResult) -> None:
        previous = ValidationResult(**self.best["result"]) if self.best else None
        if result.better_than(previous):
            self.best = {"step": self.progress.step, "result": {**asdict(result), "examples": ()}}
            # The weights say which validation chose them: checkpoints may lag behind `best/`.
            metadata = {"step": self.progress.step, "images": self.progress.images}
            metadata["validation"] = {k: v for k, v in asdict(result).items() if k != "examples"}
            best_dir = self.run_dir / "best"
            save_model(
                self.model, self.cfg.model, self.vocab, best_dir, metadata, decode=self.cfg.decode
            )
            log.info("new best (exact match %.2f%%): exported to best/", result.exact_match)

    def finished(self) -> bool:
        """Whether the run has reached `max_steps` or completed `max_epochs`."""
        tc = self.cfg.train
        if tc.max_steps:
            return self.progress.step >= tc.max_steps
        position = self.sampler.state_dict(batches_done=self.progress.batches_done)
        return position["epoch"] >= tc.max_epochs

    def fit(self) -> Progress:
        """Train until `max_steps`/`max_epochs` or a stop signal; always ends with a checkpoint."""
        tc = self.cfg.train
        if not (tc.max_steps or tc.max_epochs):
            raise TrainingError("set train.max_steps or train.max_epochs")
        if self.finished():
            log.info("nothing to do: the run is complete at step %d", self.progress.step)
            return self.progress
        self.reporter = Reporter(
            self.run_dir,
            self.progress.step,
            self.schedule.total_steps,
            self.ctx.is_main,
            tc.tensorboard,
        )
        self.model.train()
        self._last_ckpt = self._last_val = time.monotonic()
        self._bad_steps = 0
        try:
            # Log lines go above the progress bar instead of through it.
            with stop_on_signals(self._request_stop), logging_redirect_tqdm(loggers=[log]):
                while not self._epoch():
                    pass
        finally:
            self.reporter.close()
        return self.progress

    def _epoch(self) -> bool:
        """Train through (the rest of) one epoch; True when the run is over or stopped."""
        position = self.sampler.state_dict()
        self.progress.epoch = position["epoch"]
        self.progress.batches_done = position["batches_done"]
        epoch_len = position["batches_done"] + len(self.batches)
        if epoch_len == 0:
            raise TrainingError("the training split yields no batches")
        for batch in self.loader:
            start = time.monotonic()
            result = self._step(batch)
            self.progress.train_seconds += time.monotonic() - start
            if self._after_step(batch, result, epoch_len):
                return True
        return False

    def _after_step(
        self, batch: dict[str, torch.Tensor], result: tuple[float, ...], epoch_len: int
    ) -> bool:
        """Count, log, validate and checkpoint after one step; True when training must end."""
        tc, p = self.cfg.train, self.progress
        nll, tokens, correct, norm = result
        p.step += 1
        p.batches_done += 1
        now = time.monotonic()
        sums = all_sum(
            [
                nll,
                tokens,
                correct,
                len(batch["ids"]),
                float(self.stop_requested),
                float(0 < 60 * tc.checkpoint_every_minutes <= now - self._last_ckpt),
                float(0 < 60 * tc.val_every_minutes <= now - self._last_val),
            ],
            self.ctx,
        )
        stop, ckpt_due, val_due = (v > 0 for v in sums[4:])
        p.images += int(sums[3])
        self.reporter.add_step(*sums[:4])
        self._bad_steps = 0 if math.isfinite(norm) else self._bad_steps + 1
        if self._bad_steps >= MAX_BAD_STEPS:
            raise TrainingError(
                f"{self._bad_steps} consecutive steps with a non-finite gradient (step {p.step});"
                " lower train.lr or use train.precision = 'fp32'"
            )
        if p.step % tc.log_every_steps == 0:
            self.reporter.train_row(p.step, p.epoch, p.images, self.schedule.lr, norm)
        epoch_end = p.batches_done >= epoch_len
        scheduled_val = p.step % tc.val_every_steps == 0 if tc.val_every_steps else epoch_end
        done = self.finished()
        if scheduled_val or val_due or done:
            self._validate(for_schedule=scheduled_val)
            self._last_val = time.monotonic()
        every = tc.checkpoint_every_steps
        if done or stop or ckpt_due or (every and p.step % every == 0):
            self.save()
            self._last_ckpt = time.monotonic()
        if stop:
            log.info("stopped at step %d; continue with --resume %s", p.step, self.run_dir.name)
        elif done:
            log.info("finished at step %d (%d images)", p.step, p.images)
        return done or stop
