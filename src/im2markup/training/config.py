"""Experiment configuration: frozen dataclasses for the model, data, training and decoding.

Every value is type-checked and an unknown key is an error, so a typo never silently trains
the wrong model. Reading them from TOML files is `config_files`' job.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from im2markup.model.config import DecodeConfig, ModelConfig


class ConfigError(ValueError):
    """A configuration file or override that cannot be used, with the reason."""


@dataclass(frozen=True)
class DataConfig:
    """Which packed dataset to read (`<data_dir>/<name>/{train,val}`) and how to batch it.

    `augment` turns on the load-time augmentation; `scale_range` (planned by the sampler) then
    defaults to the augmentation's own range.
    """

    name: str = "im2latex-v1"
    data_dir: str = ""
    train_split: str = "train"
    val_split: str = "val"
    batch_size: int = 32
    max_pixels: int = 0
    num_workers: int = 0
    augment: bool = False
    scale_range: tuple[float, ...] = ()
    scale_prob: float = 0.5

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"data.batch_size must be at least 1, got {self.batch_size}")
        scale = self.scale_range
        if scale and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise ConfigError(
                f"data.scale_range must be [low, high] with 0 < low <= high, got {list(scale)}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule, validation and checkpoint cadence.

    A run stops after `max_steps` optimizer steps or, when that is 0, after `max_epochs`.
    `schedule = "plateau"` multiplies the lr by `plateau_factor` after every step- or
    epoch-triggered validation whose perplexity is not the best so far (the paper's rule);
    `val_every_steps = 0` validates at the end of each epoch. Time-based triggers
    (`*_every_minutes`, 0 = off) never change what is trained, so a resumed run stays exact.
    `threads = 0` keeps PyTorch's default; `compile` compiles the convolutional encoder;
    `channels_last` stores convolution weights and activations pixel-major, which made a bf16
    training step 2–11% faster on this CPU, the same weights out (`benchmarks/README.md`).
    `freeze` names modules (`cnn`, `row_encoder`) kept as initialised (`training.freezing`).
    """

    seed: int = 1234
    device: Literal["auto", "cpu", "cuda"] = "auto"
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0
    weight_decay: float = 0.01
    schedule: Literal["cosine", "plateau", "constant"] = "cosine"
    warmup_steps: int = 500
    min_lr_ratio: float = 0.05
    plateau_factor: float = 0.5
    max_steps: int = 0
    max_epochs: int = 0
    grad_clip: float = 5.0
    precision: Literal["bf16", "fp32"] = "bf16"
    compile: bool = False
    channels_last: bool = True
    threads: int = 0
    deterministic: bool = False
    log_every_steps: int = 50
    val_every_steps: int = 2000
    val_every_minutes: float = 0.0
    val_loss_samples: int = 2000
    val_match_samples: int = 300
    val_batch_size: int = 32
    checkpoint_every_minutes: float = 10.0
    checkpoint_every_steps: int = 0
    keep_checkpoints: int = 3
    tensorboard: bool = True
    ddp_find_unused: bool = False
    freeze: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_epochs", "warmup_steps", "threads", "val_every_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must not be negative, got {getattr(self, name)}")
        for name in ("log_every_steps", "keep_checkpoints", "val_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or not 0 < self.plateau_factor <= 1 or not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(
                "train.lr must be positive, plateau_factor in (0, 1], min_lr_ratio in [0, 1]"
            )


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything needed to rebuild a run: the model, the data, the training and decoding."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "model": self.model.to_dict(),
            "data": dataclasses.asdict(self.data),
            "train": dataclasses.asdict(self.train),
            "decode": dataclasses.asdict(self.decode),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ExperimentConfig:
        """Build and check a config from plain data (a parsed TOML file or a checkpoint)."""
        sections = {"model", "data", "train", "decode"}
        unknown = set(raw) - sections - {"description", "extends"}
        if unknown:
            raise ConfigError(
                f"unknown top-level keys {sorted(unknown)}; expected "
                f"{sorted(sections | {'description', 'extends'})}"
            )
        for name in sections & set(raw):
            if not isinstance(raw[name], Mapping):
                raise ConfigError(f"[{name}] must be a table, got {type(raw[name]).__name__}")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise ConfigError("description must be a string")
        try:
            model = ModelConfig.from_dict(dict(raw.get("model", {})))
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"[model]: {exc}") from exc
        try:
            decode = dataclass_from_dict(DecodeConfig, raw.get("decode", {}), "decode")
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"[decode]: {exc}") from exc
        return cls(
            model=model,
            data=dataclass_from_dict(DataConfig, raw.get("data", {}), "data"),
            train=dataclass_from_dict(TrainConfig, raw.get("train", {}), "train"),
            decode=decode,
            description=description,
        )


def _check_value(value: Any, tp: Any, where: str) -> Any:
    """`value` converted to annotation `tp` (ints widen to floats, lists to tuples) or an error."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where} = {value!r}: must be one of {list(typing.get_args(tp))}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None) and value is None:
                return None
            try:
                return _check_value(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} = {value!r}: expected {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} = {value!r}: expected an array")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where} = {value!r}: expected {len(args)} values")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(_check_value(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and type(value) is not tp:
        got = type(value).__name__
        raise ConfigError(f"{where} = {value!r}: expected {tp.__name__}, got {got}")
    return value


def dataclass_from_dict(cls: type, raw: Mapping[str, Any], section: str) -> Any:
    """Instantiate dataclass `cls` from `raw`, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"[{section}]: unknown keys {unknown}; known keys are {sorted(names)}")
    values = {k: _check_value(v, hints[k], f"{section}.{k}") for k, v in raw.items()}
    return cls(**values)
