"""Architecture settings of every model, and how its outputs are searched for, as frozen,
serializable dataclasses.

Both travel with the weights (`io.py`), so a model can always be rebuilt, and decoded as its
run validated it, from its directory alone; unknown or mistyped keys raise instead of being
ignored, which keeps old or hand-edited configurations from silently building a different
network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

PAPER_CNN_WIDTHS = (64, 128, 256, 256, 512, 512)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and switches of a model; `build_model` turns the names into classes."""

    arch: str = "seq2seq"
    attention: str = "standard"
    cnn_widths: tuple[int, ...] = PAPER_CNN_WIDTHS
    width_mult: float = 1.0
    encoder_hidden: int = 256
    decoder_hidden: int = 512
    embed_dim: int = 80
    attention_dim: int = 512
    dropout: float = 0.0
    label_smoothing: float = 0.0
    spacing_weight: float = 1.0
    max_rows: int = 128
    row_position: bool = True
    coarse_factor: int = 4
    reinforce_gamma: float = 0.5
    reinforce_baseline_rate: float = 0.01
    reinforce_entropy: float = 0.01
    reinforce_weight: float = 1.0
    ctc_frames_per_column: int = 2
    max_len: int = 200

    def __post_init__(self) -> None:
        if isinstance(self.cnn_widths, list):
            object.__setattr__(self, "cnn_widths", tuple(self.cnn_widths))
        if len(self.cnn_widths) != len(PAPER_CNN_WIDTHS):
            raise ValueError(
                f"cnn_widths needs {len(PAPER_CNN_WIDTHS)} conv widths, got {self.cnn_widths!r}"
            )
        positive = (
            "encoder_hidden",
            "decoder_hidden",
            "embed_dim",
            "attention_dim",
            "max_rows",
            "coarse_factor",
            "ctc_frames_per_column",
            "max_len",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if any(w < 1 for w in self.cnn_widths) or self.width_mult <= 0:
            raise ValueError("cnn_widths and width_mult must be positive")
        for name in ("dropout", "label_smoothing", "reinforce_baseline_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.spacing_weight <= 0:
            raise ValueError(f"spacing_weight must be positive, got {self.spacing_weight!r}")
        if not 0.0 <= self.reinforce_gamma <= 1.0:
            raise ValueError(f"reinforce_gamma must be in [0, 1], got {self.reinforce_gamma!r}")

    @property
    def widths(self) -> tuple[int, ...]:
        """The CNN widths after the width multiplier (at least 4 channels each)."""
        return tuple(max(4, round(w * self.width_mult)) for w in self.cnn_widths)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["cnn_widths"] = list(self.cnn_widths)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dictionary, rejecting unknown keys and values of the wrong type."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; valid keys: {sorted(known)}")
        defaults = cls()
        values = {}
        for key, value in data.items():
            values[key] = _check_type(key, value, getattr(defaults, key))
        return cls(**values)

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed, checked like `from_dict`."""
        return ModelConfig.from_dict({**self.to_dict(), **changes})


def _check_type(key: str, value: Any, default: Any) -> Any:
    """Accept `value` when it has the default's type (ints for floats, lists for tuples)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(
            f"model config key {key!r} expects {type(default).__name__}, got {value!r}"
        )
    return value


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {
        "width_mult": 0.5,
        "encoder_hidden": 128,
        "decoder_hidden": 256,
        "attention_dim": 256,
    },
    "tiny": {
        "width_mult": 0.125,
        "encoder_hidden": 32,
        "decoder_hidden": 64,
        "embed_dim": 32,
        "attention_dim": 64,
    },
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A named size (`paper`, `small`, `tiny`) with optional field overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; valid: {sorted(PRESETS)}")
    return ModelConfig.from_dict({**PRESETS[name], **overrides})


@dataclass(frozen=True)
class DecodeConfig:
    """Search settings: beam width (1 = greedy) and the longest output (`None`: the model's
    `ModelConfig.max_len`).

    A training run's `[decode]` table; its model directories keep it (`io.save_model`), and
    inference decodes with it unless told otherwise. A directory without one decodes with
    these defaults.
    """

    beam_size: int = 5
    max_len: int | None = None

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {self.beam_size!r}")
        if self.max_len is not None and self.max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {self.max_len!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecodeConfig:
        """Build from a dictionary, rejecting unknown keys and values of the wrong type."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown decode config keys {unknown}; valid keys: {sorted(known)}")
        for key, value in data.items():
            if not (isinstance(value, int) and not isinstance(value, bool)) and not (
                key == "max_len" and value is None
            ):
                raise ValueError(f"decode config key {key!r} expects an integer, got {value!r}")
        return cls(**data)
