"""Faster CPU inference (`model.quantize`): the bundled model reads real test images as in
float32."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rapidfuzz.distance import Levenshtein
from torch import nn

from im2markup.model.io import load_model_dir
from im2markup.model.quantize import int8_copy, native_bf16
from im2markup.serving.inputs import prepare_inputs
from im2markup.serving.limits import Limits

pytestmark = pytest.mark.shared_data


def test_int8_copy_quantizes_the_recurrent_and_linear_layers_only(model_dir: Path) -> None:
    model, _, _ = load_model_dir(model_dir, torch.device("cpu"))
    copy = int8_copy(model)
    kinds = {name: module._get_name() for name, module in copy.named_modules()}
    assert kinds["decoder.cell"] == "DynamicQuantizedLSTMCell"
    assert kinds["decoder.out"] == "DynamicQuantizedLinear"
    assert kinds["row_encoder.lstm"] == "DynamicQuantizedLSTM"
    assert kinds["decoder.attention.scorer.beta"] == "Linear"  # one output: left as it is
    assert kinds["cnn"] == ("Bf16Autocast" if native_bf16() else "CNNEncoder")
    assert any(name.endswith("net.16") and kind == "Conv2d" for name, kind in kinds.items())
    assert type(model.decoder.cell) is nn.LSTMCell  # the float model is untouched
    image = torch.full((1, 1, 64, 320), 255, dtype=torch.uint8)
    image[..., 20:44, 30:290] = 0
    with torch.inference_mode():
        full, fast = model.encode(image), copy.encode(image)
    assert fast.fine_values.dtype == torch.float32
    error = (fast.fine_values - full.fine_values).abs().mean() / full.fine_values.abs().mean()
    assert float(error) < 0.05


def test_int8_reads_shared_test_images_as_float32_does(model_dir: Path, images: list[Path]) -> None:
    """Int8 rounding may tip a close call, so a few readings may differ, and then only a little
    (the accuracy over whole test sets is in `benchmarks/README.md`)."""
    model, _, _ = load_model_dir(model_dir, torch.device("cpu"))
    model.eval()
    copy = int8_copy(model)
    same, similarity = 0, []
    for path in images:
        pixels = prepare_inputs(path, Limits(), (1.0,), False, True).candidates[0]
        batch = torch.from_numpy(pixels)[None, None]
        for beam in (1, 5):
            full, quantized = model.decode(batch, beam_size=beam)[0], copy.decode(batch, beam)[0]
            same += quantized.token_ids == full.token_ids
            score = Levenshtein.normalized_similarity(full.token_ids, quantized.token_ids)
            similarity.append(score)
    assert same >= len(images)  # at least half of the 2 × len(images) readings
    assert min(similarity) >= 0.8
