"""Setting up a run (new, resumed or warm-started) and handing it to the trainer.

`train_run` is what `im2markup train` calls; it works the same alone and under `torchrun`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from im2markup.data.dataset import BucketBatchSampler, FormulaDataset
from im2markup.data.images.augment import AugmentConfig, Augmenter
from im2markup.data.vocab import Vocab
from im2markup.model.config import ModelConfig
from im2markup.model.factory import build_model
from im2markup.model.io import load_model_dir, read_config
from im2markup.model.seq2seq import Seq2Seq
from im2markup.paths import data_dir
from im2markup.training.checkpoint import LAST, latest_checkpoint, remove_stale_temporaries
from im2markup.training.config import ConfigError, DataConfig, ExperimentConfig, TrainConfig
from im2markup.training.config_files import apply_overrides, load_config, to_toml
from im2markup.training.distributed import DistContext, init_distributed, shutdown
from im2markup.training.freezing import freeze
from im2markup.training.logs import close_logging, log, setup_logging
from im2markup.training.loop import Progress, Trainer
from im2markup.training.runs import (
    CHECKPOINT_DIR,
    RunError,
    launch_background,
    run_lock,
    run_path,
    write_pid,
)
from im2markup.training.schedule import LRSchedule, build_optimizer
from im2markup.training.token_weights import spacing_token_weights
from im2markup.training.warmstart import transfer_weights

# Model fields that change the loss but not the parameters: a resumed run may change them.
TRAINING_MODEL_FIELDS = frozenset(
    {
        "dropout",
        "label_smoothing",
        "spacing_weight",
        "reinforce_gamma",
        "reinforce_baseline_rate",
        "reinforce_entropy",
        "reinforce_weight",
    }
)
# Fields that fix the data order or the optimizer state's layout: frozen for a resumed run.
FROZEN_ON_RESUME = {
    "data": ("name", "data_dir", "train_split", "batch_size", "max_pixels", "scale_range"),
    "train": ("optimizer", "freeze"),
}


def dataset_path(cfg: DataConfig) -> Path:
    """`<data_dir>/<name>`, where the splits, `vocab.txt` and `manifest.json` live."""
    return (Path(cfg.data_dir) if cfg.data_dir else data_dir()) / cfg.name


def resume_conflicts(old: ExperimentConfig, new: ExperimentConfig) -> list[str]:
    """Fields a resumed run may not change: the architecture, the data order, the optimizer."""
    conflicts = [
        f"model.{k}: {v!r} → {new.model.to_dict()[k]!r}"
        for k, v in old.model.to_dict().items()
        if k not in TRAINING_MODEL_FIELDS and new.model.to_dict()[k] != v
    ]
    for section, names in FROZEN_ON_RESUME.items():
        a, b = getattr(old, section), getattr(new, section)
        conflicts += [
            f"{section}.{k}: {getattr(a, k)!r} → {getattr(b, k)!r}"
            for k in names
            if getattr(a, k) != getattr(b, k)
        ]
    return conflicts


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _torch_settings(tc: TrainConfig) -> Iterator[None]:
    """Threads and determinism for the run, restored afterwards (the caller may go on)."""
    saved = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
    )
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    if tc.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    # No cuDNN autotuning: bucketed batches bring new shapes all the time, and on an H200 the
    # autotuned step was no faster (1,209 against 1,053 images/s at batch 128, 2,847 against
    # 2,985 at 512) while each new shape cost 2–5 s (benchmarks/README.md).
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1])
        torch.backends.cudnn.benchmark = saved[2]


def build_data(
    cfg: ExperimentConfig, vocab: Vocab
) -> tuple[FormulaDataset, FormulaDataset | None, BucketBatchSampler]:
    """The training split, the validation split (None when absent) and the batch sampler."""
    data = cfg.data
    root = dataset_path(data)
    augment = AugmentConfig()
    train_set = FormulaDataset(
        root / data.train_split, vocab, transform=Augmenter(augment) if data.augment else None
    )
    val_dir = root / data.val_split
    val_set = FormulaDataset(val_dir, vocab) if val_dir.is_dir() else None
    if val_set is None:
        log.warning("no validation split at %s: training without validation", val_dir)
    # Scales are planned by the sampler so that a scaled image lands in its batch's bucket.
    scale_range = data.scale_range or (augment.scale_range if data.augment else ())
    sampler = BucketBatchSampler.from_dataset(
        train_set,
        data.batch_size,
        max_pixels=data.max_pixels or None,
        seed=cfg.train.seed,
        scale_range=tuple(scale_range) if scale_range else None,
        scale_prob=data.scale_prob,
    )
    return train_set, val_set, sampler


def schedule_horizon(tc: TrainConfig, sampler: BucketBatchSampler) -> int:
    """Optimizer steps of the whole run: `max_steps`, else `max_epochs` epochs of batches."""
    if tc.max_steps or not tc.max_epochs:
        return tc.max_steps
    # Counted on epoch 0 of a copy, so that a resumed run gets the same horizon.
    probe = copy.deepcopy(sampler)
    probe.load_state_dict({**probe.state_dict(), "epoch": 0, "batches_done": 0})
    return tc.max_epochs * len(probe)


def _resolve(
    run_dir: Path,
    config: str | Path | None,
    overrides: Sequence[str],
    resume: bool,
    init: Path | None,
) -> tuple[ExperimentConfig, Vocab, dict[str, Any] | None]:
    """The run's config and vocabulary, and its checkpoint when resuming; checks `init`."""
    if init is not None:
        if resume:
            raise ConfigError("--init starts a new run; it cannot be combined with --resume")
        try:
            read_config(init)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--init {init}: not a model directory ({exc})") from exc
    if not resume:
        if config is None:
            raise ConfigError("give a config file to start a run (or --resume NAME)")
        if (run_dir / CHECKPOINT_DIR / LAST).exists():
            raise RunError(
                f"run {run_dir.name} already has checkpoints; continue it with "
                f"--resume {run_dir.name} or choose another name"
            )
        cfg = load_config(config, overrides)
        vocab_file = dataset_path(cfg.data) / "vocab.txt"
        if not vocab_file.is_file():
            raise ConfigError(f"dataset {cfg.data.name!r} has no vocabulary at {vocab_file}")
        return cfg, Vocab.load(vocab_file), None
    if config is not None:
        raise ConfigError("--resume takes the config from the checkpoint; use --set to change it")
    state = latest_checkpoint(run_dir / CHECKPOINT_DIR)
    if state is None:
        raise RunError(f"run {run_dir.name} has no checkpoint to resume from ({run_dir})")
    old = ExperimentConfig.from_dict(state["config"])
    cfg = ExperimentConfig.from_dict(apply_overrides(state["config"], overrides))
    conflicts = resume_conflicts(old, cfg)
    if conflicts:
        raise ConfigError("a resumed run cannot change: " + "; ".join(conflicts))
    return cfg, Vocab(state["vocab"]), state


def _warm_start(model: torch.nn.Module, cfg: ModelConfig, vocab: Vocab, init: Path) -> None:
    source, source_cfg, source_vocab = load_model_dir(init, torch.device("cpu"))
    report = transfer_weights(model, cfg, source.state_dict(), source_vocab, vocab)
    if source_cfg.arch != cfg.arch or source_cfg.attention != cfg.attention:
        log.info(
            "warm start across architectures: %s/%s → %s/%s",
            source_cfg.arch,
            source_cfg.attention,
            cfg.arch,
            cfg.attention,
        )
    log.info("warm start from %s: %s", init, report.summary())
    if not report.copied and not report.mapped:
        raise ConfigError(f"--init {init}: no tensor matches the configured architecture")


def _reapply_hyperparameters(optimizer: torch.optim.Optimizer, tc: TrainConfig) -> None:
    """Settings overridden on resume win over those stored with the optimizer state."""
    for group in optimizer.param_groups:
        group["weight_decay"] = tc.weight_decay
        if tc.optimizer == "sgd":
            group["momentum"] = tc.momentum
        else:
            group["betas"], group["eps"] = tc.betas, tc.eps


def train_run(
    run: str,
    config: str | Path | None = None,
    overrides: Iterable[str] = (),
    init: Path | None = None,
    resume: bool = False,
) -> Progress:
    """Start (`config`) or continue (`resume=True`) the run `run` and train it to the end."""
    run_dir = run_path(run)
    cfg, vocab, state = _resolve(run_dir, config, list(overrides), resume, init)
    ctx = init_distributed(cfg.train.device)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(run_dir, ctx.is_main)
        lock = run_lock(run_dir) if ctx.is_main else contextlib.nullcontext()
        with lock, _torch_settings(cfg.train):
            if ctx.is_main:
                write_pid(run_dir)
                remove_stale_temporaries(run_dir / CHECKPOINT_DIR)
                (run_dir / "config.toml").write_text(to_toml(cfg), encoding="utf-8")
            return _train(cfg, vocab, state, run_dir, ctx, init)
    except Exception:
        log.exception("training of run %s stopped by an error", run_dir.name)
        raise
    finally:
        shutdown(ctx)
        close_logging()


def _train(
    cfg: ExperimentConfig,
    vocab: Vocab,
    state: dict[str, Any] | None,
    run_dir: Path,
    ctx: DistContext,
    init: Path | None,
) -> Progress:
    tc = cfg.train
    _seed(tc.seed)
    model = build_model(cfg.model, len(vocab))
    n_params = sum(p.numel() for p in model.parameters())
    log.info(
        "%s run %s: %s, %.2fM parameters, %d tokens, %s × %d process(es), %d threads, "
        "pid %d, nice %d",
        "resuming" if state else "starting",
        run_dir.name,
        cfg.description or cfg.model.arch,
        n_params / 1e6,
        len(vocab),
        ctx.device,
        ctx.world_size,
        torch.get_num_threads(),
        os.getpid(),
        os.nice(0),
    )
    if init is not None:
        _warm_start(model, cfg.model, vocab, init)
    if cfg.model.spacing_weight != 1.0:
        if not isinstance(model, Seq2Seq):
            raise ConfigError(f"model.spacing_weight needs a seq2seq model, not {cfg.model.arch}")
        model.set_token_weights(spacing_token_weights(vocab, cfg.model.spacing_weight))
    if tc.freeze:
        frozen = freeze(model, tc.freeze)
        log.info("frozen: %s (%.2fM parameters)", ", ".join(tc.freeze), frozen / 1e6)
    model.to(ctx.device)
    train_set, val_set, sampler = build_data(cfg, vocab)
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], tc)
    schedule = LRSchedule(optimizer, tc, schedule_horizon(tc, sampler))
    trainer = Trainer(
        cfg, run_dir, ctx, model, vocab, train_set, val_set, sampler, optimizer, schedule
    )
    _seed(tc.seed + ctx.rank)
    if state is not None:
        trainer.load_state_dict(state)
        _reapply_hyperparameters(optimizer, tc)
        log.info(
            "resumed at step %d (epoch %d, %d images)",
            trainer.progress.step,
            trainer.progress.epoch,
            trainer.progress.images,
        )
    return trainer.fit()


def start_background(
    run: str,
    argv: list[str],
    config: str | Path | None = None,
    overrides: Iterable[str] = (),
    init: Path | None = None,
    resume: bool = False,
) -> int:
    """Check the run can start, then re-launch `im2markup <argv>` detached; returns the PID."""
    run_dir = run_path(run)
    _resolve(run_dir, config, list(overrides), resume, init)
    return launch_background(argv, run_dir)
