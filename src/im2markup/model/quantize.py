"""Faster CPU inference: int8 recurrent and linear layers, bf16 convolutions where supported.

A decoder runs one small step per output token, and on a CPU each step is bound by reading the
weights of the LSTM cell and of the linear layers around it (about 13 MB in float32 at the
paper's size); int8 weights are a quarter of that. Activations stay floating point (their
scale is measured at every call), so the readings hardly change: `benchmarks/README.md`
("Int8 decoder and bf16 convolutions") measures speed and accuracy on test images.

PyTorch's eager-mode `quantize_dynamic` is deprecated in favour of torchao, which has no
quantized LSTM; the pinned torch range still has it. Where it is gone the float model is used.

Once the decoder is int8, most of a reading's time is the CNN. On a CPU with native bf16
(AVX-512 BF16 or AMX) `int8_copy` also runs the convolutions under bf16 autocast, as they ran
in training; elsewhere bf16 would be emulated and slower, so they stay float32.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

log = logging.getLogger(__name__)

# The convolutional parts of the models (`Seq2Seq`, `CTCModel`) run in bf16 where the CPU has it.
CONVOLUTIONAL_PARTS = ("cnn", "coarse_cnn")
# Linear layers with fewer outputs gain nothing, and an attention's scoring vector (one output)
# has its weight read directly, which a quantized layer does not allow.
MIN_OUT_FEATURES = 16


def int8_copy(model: nn.Module) -> nn.Module:
    """A copy of `model`, in eval mode, whose LSTM, LSTM-cell and linear layers (those with at
    least `MIN_OUT_FEATURES` outputs) keep their weights in int8 and whose convolutional parts
    run in bf16 where the CPU has it (`native_bf16`); `model` is left as it is."""
    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.LSTM | nn.LSTMCell)
        or (isinstance(module, nn.Linear) and module.out_features >= MIN_OUT_FEATURES)
    }
    try:
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
    except ImportError:
        log.warning("this PyTorch has no eager-mode dynamic quantization; decoding in float32")
        return model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notices of the API itself
        copy = quantize_dynamic(
            model.eval(), dict.fromkeys(names, default_dynamic_qconfig), dtype=torch.qint8
        )
    if native_bf16():
        for name in CONVOLUTIONAL_PARTS:
            part = getattr(copy, name, None)
            if part is not None:
                setattr(copy, name, Bf16Autocast(part))
    return copy


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's check for AVX-512 BF16 or AMX)."""
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


class Bf16Autocast(nn.Module):
    """`inner` run under CPU bf16 autocast, its output handed on as float32."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.inner(images).float()
