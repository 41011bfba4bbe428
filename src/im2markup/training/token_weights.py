"""Loss weights per target token: more weight on the spacing commands (`model.spacing_weight`).

A spacing command is a small share of the target tokens and its width a few pixels of the
image, so a decoder can lower its loss most by writing spaces from habit; the printed model
adds and drops the commonest ones (`results/README.md`, "Where the spacing errors come
from"). Weighing those targets more makes a misjudged space cost what a wrong glyph costs.
"""

from __future__ import annotations

import torch

from im2markup.data.vocab import Vocab
from im2markup.latex.variants import ALL_SPACES


def spacing_token_weights(vocab: Vocab, weight: float) -> torch.Tensor:
    """One weight per token id: `weight` for the spacing commands, 1 for every other token."""
    weights = torch.ones(len(vocab))
    for token in ALL_SPACES & set(vocab.tokens):
        weights[vocab.encode([token], add_bos_eos=False)[0]] = weight
    return weights
