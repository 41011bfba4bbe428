"""Attention variants behind one registry (`ATTENTION`, `build_attention`).

Each variant module registers itself on import; they are imported here explicitly so the
registry is complete whenever the package is.
"""

from im2markup.model.attention import coarse_only, hard, hierarchical, sparsemax, standard
from im2markup.model.attention.base import (
    ATTENTION,
    Attention,
    AttentionMemory,
    AttentionOutput,
    build_attention,
    register_attention,
)

__all__ = [
    "ATTENTION",
    "Attention",
    "AttentionMemory",
    "AttentionOutput",
    "build_attention",
    "coarse_only",
    "hard",
    "hierarchical",
    "register_attention",
    "sparsemax",
    "standard",
]
