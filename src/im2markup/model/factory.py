"""Configuration → model: the only place where architecture names become classes.

Builders register under a name (`@register_model`), duplicates raise, and an unknown name
raises a `ValueError` that lists the valid ones. Attention names are resolved the same way
by `attention.build_attention`.
"""

from __future__ import annotations

from collections.abc import Callable

from im2markup.model.attention import ATTENTION
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import ModelConfig
from im2markup.model.ctc import CTCModel
from im2markup.model.seq2seq import Seq2Seq

Builder = Callable[[ModelConfig, int], ImageToMarkupModel]
MODELS: dict[str, Builder] = {}


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator: make a builder available as `ModelConfig.arch = name`."""

    def add(builder: Builder) -> Builder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered")
        MODELS[name] = builder
        return builder

    return add


@register_model("seq2seq")
def _seq2seq(cfg: ModelConfig, vocab_size: int) -> ImageToMarkupModel:
    """The paper's IM2TEX: CNN, row encoder, attention decoder."""
    return Seq2Seq(cfg, vocab_size, row_encoder=True)


@register_model("cnn_only")
def _cnn_only(cfg: ModelConfig, vocab_size: int) -> ImageToMarkupModel:
    """CNNEnc (the paper's CAPTION baseline): attention straight over the CNN features."""
    return Seq2Seq(cfg, vocab_size, row_encoder=False)


@register_model("ctc")
def _ctc(cfg: ModelConfig, vocab_size: int) -> ImageToMarkupModel:
    """CNN + column BiLSTM + CTC loss."""
    return CTCModel(cfg, vocab_size)


def build_model(cfg: ModelConfig, vocab_size: int) -> ImageToMarkupModel:
    """A freshly initialised model for `cfg` with `vocab_size` output tokens."""
    if cfg.arch not in MODELS:
        raise ValueError(f"unknown model arch {cfg.arch!r}; valid: {sorted(MODELS)}")
    if cfg.arch != "ctc" and cfg.attention not in ATTENTION:
        raise ValueError(f"unknown attention {cfg.attention!r}; valid: {sorted(ATTENTION)}")
    if vocab_size < 5:
        raise ValueError(f"vocab_size must exceed the 4 special tokens, got {vocab_size}")
    return MODELS[cfg.arch](cfg, vocab_size)
