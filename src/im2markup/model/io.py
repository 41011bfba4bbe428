"""Model weights on disk: `model.safetensors` plus `config.json`, loadable in one call.

`config.json` holds the model configuration, the vocabulary (all ids, specials included),
the decode settings the model is meant to be searched with (optional: directories written
before they travelled with the weights decode with `DecodeConfig`'s defaults) and free
metadata, so a directory is self-contained. Safetensors stores raw tensors only,
so loading a model directory never runs code from it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from im2markup.data.vocab import Vocab
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import DecodeConfig, ModelConfig
from im2markup.model.factory import build_model

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def clean_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop the key prefixes DistributedDataParallel (`module.`) and `torch.compile` add."""
    cleaned = {}
    for key, value in state.items():
        while key.startswith(WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        cleaned[key] = value
    return cleaned


def save_model(
    model: nn.Module,
    cfg: ModelConfig,
    vocab: Vocab,
    directory: str | Path,
    metadata: dict[str, Any] | None = None,
    bf16: bool = False,
    decode: DecodeConfig | None = None,
) -> Path:
    """Write weights (optionally as bfloat16, half the size) and config into `directory`,
    with the `decode` settings when given.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, value in clean_state_dict(model.state_dict()).items():
        value = value.detach().cpu()
        if bf16 and value.is_floating_point():
            value = value.to(torch.bfloat16)
        state[key] = value.contiguous()
    config = {
        "format_version": FORMAT_VERSION,
        "model": cfg.to_dict(),
        "vocab": vocab.itos,
        "dtype": "bfloat16" if bf16 else "float32",
        "metadata": metadata or {},
    }
    if decode is not None:
        config["decode"] = dataclasses.asdict(decode)
    weights_tmp = directory / f"{WEIGHTS_FILE}.tmp"
    save_file(state, str(weights_tmp), metadata={"format_version": str(FORMAT_VERSION)})
    os.replace(weights_tmp, directory / WEIGHTS_FILE)
    config_tmp = directory / f"{CONFIG_FILE}.tmp"
    config_tmp.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(config_tmp, directory / CONFIG_FILE)
    return directory


def _read_config_file(directory: str | Path) -> tuple[Path, dict[str, Any]]:
    """`config.json` of a model directory, checked to be one of this format."""
    path = Path(directory) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{path}: no model config in {directory}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(config, dict) or not {"model", "vocab"} <= set(config):
        raise ValueError(f"{path}: expected an object with 'model' and 'vocab'")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format_version {version!r}, not {FORMAT_VERSION}")
    return path, config


def read_config(directory: str | Path) -> tuple[ModelConfig, Vocab, dict[str, Any]]:
    """The model config, vocabulary and metadata of a model directory (no weights read)."""
    path, config = _read_config_file(directory)
    tokens = config["vocab"]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"{path}: 'vocab' must be a list of strings")
    try:
        cfg = ModelConfig.from_dict(config["model"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: bad model config: {error}") from None
    metadata = config.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: 'metadata' must be an object")
    return cfg, Vocab(tokens), metadata


def read_decode_config(directory: str | Path) -> DecodeConfig:
    """The decode settings saved with a model directory (the defaults when it has none)."""
    path, config = _read_config_file(directory)
    decode = config.get("decode", {})
    if not isinstance(decode, dict):
        raise ValueError(f"{path}: 'decode' must be an object")
    try:
        return DecodeConfig.from_dict(decode)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: bad decode config: {error}") from None


def load_model_dir(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[ImageToMarkupModel, ModelConfig, Vocab]:
    """Rebuild the model of `directory` in eval mode on `device`, weights in float32."""
    cfg, vocab, _ = read_config(directory)
    model = build_model(cfg, len(vocab))
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no weights file")
    try:
        state = clean_state_dict(load_file(str(path)))
    except SafetensorError as error:
        raise ValueError(f"{path}: not a readable safetensors file ({error})") from None
    try:
        # copy_ into the float32 parameters also widens bfloat16 weights.
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"{path}: weights do not fit {CONFIG_FILE}: {error}") from None
    return model.to(device).eval(), cfg, vocab
