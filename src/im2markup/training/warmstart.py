"""Warm starts (`--init`): copy committed weights into a new model, even across vocabularies.

Which tensors are indexed by the vocabulary is found by building the architecture a second
time, on the meta device, with one more token: every dimension that grows with it is a token
dimension. Rows along it are copied by token string, so a token that moved keeps its learned
embedding and output row, and a token the old vocabulary lacks keeps its fresh initialisation.

Across architectures, tensors are matched by name and shape; a coarse-to-fine model's fine
scorer also takes a standard model's scorer (the same attention over the same fine grid), so
the variants start from the trained standard model with only their coarse parts fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from im2markup.data.vocab import Vocab
from im2markup.model.config import ModelConfig
from im2markup.model.factory import build_model


@dataclass
class TransferReport:
    """What a warm start copied, mapped and left fresh."""

    copied: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    tokens_found: int = 0
    new_tokens: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.copied)} tensors copied"]
        if self.mapped:
            parts.append(
                f"{len(self.mapped)} token-indexed tensors mapped by token string "
                f"({self.tokens_found} tokens found, {len(self.new_tokens)} new tokens with "
                f"fresh rows{': ' + ' '.join(self.new_tokens[:20]) if self.new_tokens else ''}"
                f"{' …' if len(self.new_tokens) > 20 else ''})"
            )
        if self.fresh:
            parts.append(f"{len(self.fresh)} left at initialisation: {', '.join(self.fresh)}")
        if self.ignored:
            parts.append(f"{len(self.ignored)} ignored: {', '.join(self.ignored)}")
        return "; ".join(parts)


_COUNTERPARTS = {"decoder.attention.fine_scorer.": "decoder.attention.scorer."}


def _source_name(name: str, src_state: dict[str, torch.Tensor]) -> str:
    """The source tensor `name` loads from: itself, else its counterpart in another variant."""
    if name in src_state:
        return name
    for prefix, other in _COUNTERPARTS.items():
        if name.startswith(prefix):
            return other + name[len(prefix) :]
    return name


def token_dims(cfg: ModelConfig, vocab_size: int) -> dict[str, tuple[int, int]]:
    """For each state-dict entry indexed by the vocabulary, the dimension that is and how many
    vocabulary-sized blocks lie along it (the CTC output has one per frame of a column)."""
    with torch.device("meta"):
        a = build_model(cfg, vocab_size).state_dict()
        b = build_model(cfg, vocab_size + 1).state_dict()
    dims = {}
    for name, tensor in a.items():
        pairs = enumerate(zip(tensor.shape, b[name].shape, strict=True))
        grown = [(d, y - x) for d, (x, y) in pairs if x != y]
        if grown:
            dims[name] = grown[0]
    return dims


def _row_map(src_vocab: Vocab, dst_vocab: Vocab) -> tuple[list[int], list[int], list[str]]:
    """Pairs (destination id, source id) of tokens present in both, plus the missing tokens."""
    dst_ids, src_ids, missing = [], [], []
    for dst_id, token in enumerate(dst_vocab.itos):
        src_id = src_vocab.stoi.get(token)
        if src_id is None:
            missing.append(token)
        else:
            dst_ids.append(dst_id)
            src_ids.append(src_id)
    return dst_ids, src_ids, missing


@torch.no_grad()
def transfer_weights(
    model: nn.Module,
    cfg: ModelConfig,
    src_state: dict[str, torch.Tensor],
    src_vocab: Vocab,
    dst_vocab: Vocab,
) -> TransferReport:
    """Load `src_state` (trained with `src_vocab`) into `model` (built for `dst_vocab`)."""
    report = TransferReport()
    dims = token_dims(cfg, len(dst_vocab)) if src_vocab != dst_vocab else {}
    dst_ids, src_ids, missing = _row_map(src_vocab, dst_vocab)
    report.tokens_found, report.new_tokens = len(dst_ids), missing
    state = model.state_dict()
    used = set()
    for name, target in state.items():
        source_name = _source_name(name, src_state)
        used.add(source_name)
        source = src_state.get(source_name)
        if source is None:
            report.fresh.append(name)
        elif name in dims:
            dim, blocks = dims[name]
            if _copy_rows(target, source, dim, blocks, dst_ids, src_ids, len(src_vocab)):
                report.mapped.append(name)
            else:
                report.fresh.append(f"{name} (shape {tuple(source.shape)} → {tuple(target.shape)})")
        elif source.shape == target.shape:
            target.copy_(source)
            report.copied.append(name)
        else:
            report.fresh.append(f"{name} (shape {tuple(source.shape)} → {tuple(target.shape)})")
    report.ignored = sorted(set(src_state) - used)
    return report


def _copy_rows(
    target: torch.Tensor,
    source: torch.Tensor,
    dim: int,
    blocks: int,
    dst_ids: list[int],
    src_ids: list[int],
    src_n: int,
) -> bool:
    """Copy token rows along `dim`, in each of its `blocks` vocabulary-sized blocks.

    Returns False, copying nothing, when the shapes do not fit the two vocabularies.
    """
    dst_n = target.shape[dim] // blocks
    if source.ndim != target.ndim or source.shape[dim] != blocks * src_n:
        return False
    if target.shape[dim] != blocks * dst_n:
        return False
    pairs = enumerate(zip(source.shape, target.shape, strict=True))
    if any(s != t for d, (s, t) in pairs if d != dim):
        return False
    dst_index = torch.tensor([b * dst_n + i for b in range(blocks) for i in dst_ids])
    src_index = torch.tensor([b * src_n + i for b in range(blocks) for i in src_ids])
    target.index_copy_(dim, dst_index, source.index_select(dim, src_index).to(target.dtype))
    return True
