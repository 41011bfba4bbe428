"""Keep parts of a warm-started model fixed while the rest trains (`train.freeze`).

The coarse-to-fine variants and the baselines may start from the trained standard model's
convolutional encoder; holding it fixed skips its backward pass, the largest part of a CPU
training step. A frozen part's batch norm normalizes with its stored statistics and never
updates them (it stays in evaluation mode while the rest trains), so the frozen encoder
computes in training exactly the features it computes at prediction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from im2markup.training.config import ConfigError

_BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)


def _in_eval_mode(module: torch.nn.Module, _inputs: object) -> None:
    """Forward pre-hook: whatever `model.train()` set, this module runs as in evaluation."""
    module.training = False


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def freeze(model: torch.nn.Module, prefixes: Sequence[str]) -> int:
    """Stop gradients for every parameter under one of `prefixes` (module paths such as
    `cnn`); returns how many parameters were frozen. A prefix matching nothing is an error."""
    frozen = 0
    for prefix in prefixes:
        matched = [p for name, p in model.named_parameters() if _under(name, prefix)]
        if not matched:
            raise ConfigError(f"train.freeze: no parameter of the model is under {prefix!r}")
        for parameter in matched:
            parameter.requires_grad_(False)
        frozen += sum(p.numel() for p in matched)
        for name, module in model.named_modules():
            if _under(name, prefix) and isinstance(module, _BATCH_NORMS):
                module.register_forward_pre_hook(_in_eval_mode)
    return frozen
