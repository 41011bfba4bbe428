"""A model directory loaded for inference: threads, device, int8 weights, decode settings.

Every reader of a trained model (the Python API and the server, `evaluate --model`, the
pseudo-labelling pass) loads it here, so they all run the same numerics for the same options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from im2markup.data.vocab import Vocab
from im2markup.inference.device import resolve_device
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import DecodeConfig, ModelConfig
from im2markup.model.io import WEIGHTS_FILE, load_model_dir, read_decode_config
from im2markup.model.quantize import int8_copy
from im2markup.paths import models_dir

HANDWRITTEN_MODEL = "im2tex-handwritten"


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode on `device`, with its configuration, vocabulary and the decode
    settings saved with its weights (`decode`).

    `int8` says its recurrent and linear weights are int8 (and its convolutions bf16 where the
    CPU has it, `model.quantize`): such a model quantizes activations per call, so an image's
    reading depends on the other images of its batch.
    """

    model: ImageToMarkupModel
    config: ModelConfig
    vocab: Vocab
    decode: DecodeConfig
    device: torch.device
    directory: Path
    int8: bool = False

    @property
    def weights_file(self) -> Path:
        """The weights the model was loaded from (what names it: its digest)."""
        return self.directory / WEIGHTS_FILE


def load_for_inference(
    directory: str | Path,
    device: str = "cpu",
    *,
    threads: int | None = None,
    int8: bool = False,
) -> LoadedModel:
    """Load the model of `directory` to decode on `device` (`auto`: CUDA when present).

    `threads` sets PyTorch's CPU threads for the whole process: decoding runs many small
    steps, and on a busy machine two threads that wait for each other are many times slower
    than one (see `benchmarks/README.md`). `int8` applies on a CPU only
    (`model.quantize.int8_copy`): about twice as fast.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    directory = Path(directory)
    resolved = resolve_device(device)
    model, cfg, vocab = load_model_dir(directory, resolved)
    quantized = int8 and resolved.type == "cpu"
    if quantized:
        model = int8_copy(model)
    decode = read_decode_config(directory)
    return LoadedModel(model, cfg, vocab, decode, resolved, directory, quantized)


def default_model_dir(handwritten: bool = False) -> Path:
    """The bundled model: `im2tex-handwritten` for handwriting; for printed formulas the only
    other directory of the models folder (`paths.models_dir`) with weights (or the one named
    `default` when there are several)."""
    root = models_dir()
    if handwritten:
        directory = root / HANDWRITTEN_MODEL
        if not (directory / "model.safetensors").is_file():
            raise FileNotFoundError(f"no bundled handwriting model at {directory}")
        return directory
    candidates = sorted(
        p.parent for p in root.glob("*/model.safetensors") if p.parent.name != HANDWRITTEN_MODEL
    )
    if not candidates:
        raise FileNotFoundError(
            f"no bundled model under {root}; pass the directory of a trained model"
        )
    named = [p for p in candidates if p.name == "default"]
    if named or len(candidates) == 1:
        return (named or candidates)[0]
    names = ", ".join(p.name for p in candidates)
    raise FileNotFoundError(f"several models under {root} ({names}) and none named 'default'")
