"""The inference runtime: loading with the saved decode settings, and batching by size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from im2markup.data.vocab import Vocab
from im2markup.inference.batches import Search, decode_images
from im2markup.inference.loading import load_for_inference
from im2markup.model.base import Hypothesis
from im2markup.model.config import DecodeConfig, preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model
from im2markup.serving.predictor import load_model

VOCAB = Vocab(["x", "=", "{", "}", "^", "2"])


class RecordingModel(torch.nn.Module):
    """Answers every image with its first pixel as the score and records each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.batches: list[tuple[tuple[int, ...], dict[str, object]]] = []

    def decode(self, images: torch.Tensor, **search: object) -> list[Hypothesis]:
        self.batches.append((tuple(images.shape), search))
        return [Hypothesis([], float(image[0, 0, 0])) for image in images]


def image(value: int, shape: tuple[int, int] = (32, 128)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint8)


def test_images_are_batched_by_size_in_order_and_kept_apart_when_asked() -> None:
    model = RecordingModel()
    images = [image(1), image(2, (64, 128)), image(3), image(4), image(5)]
    search = Search(beam_size=3, max_len=9)
    decoded = decode_images(model, images, torch.device("cpu"), search, batch_size=2)
    assert [hyp.score for hyp, _ in decoded] == [1, 2, 3, 4, 5]
    sizes = [shape for shape, _ in model.batches]
    assert sizes == [(2, 1, 32, 128), (2, 1, 32, 128), (1, 1, 64, 128)]
    assert model.batches[0][1] == {
        "beam_size": 3,
        "max_len": 9,
        "keep_attention": False,
        "allowed_tokens": None,
        "floor": None,
        "deadline": None,
    }
    assert all(seconds >= 0 for _, seconds in decoded)
    model.batches.clear()
    decode_images(model, images, torch.device("cpu"), search, 16, apart=[0, 1, 0, 1, 0])
    assert [shape[0] for shape, _ in model.batches] == [3, 1, 1]


def test_a_model_decodes_with_the_settings_saved_with_it(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = preset("tiny", max_len=12)
    model = build_model(cfg, len(VOCAB))
    save_model(model, cfg, VOCAB, tmp_path / "m", decode=DecodeConfig(beam_size=3, max_len=7))
    loaded = load_for_inference(tmp_path / "m", int8=True)
    assert loaded.decode == DecodeConfig(beam_size=3, max_len=7)
    assert loaded.int8 and loaded.vocab == VOCAB and loaded.config == cfg
    predictor = load_model(tmp_path / "m", int8=False)
    assert (predictor.beam_size, predictor.max_len, predictor.own_batches) == (3, 7, False)
    assert load_model(tmp_path / "m", beam_size=2, max_len=None).beam_size == 2


def test_cuda_asked_for_without_it_is_an_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        load_for_inference(tmp_path, "cuda")
