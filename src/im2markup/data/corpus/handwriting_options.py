"""What the two builds from the CROHME training inks share (`build_ink`, `build_glyphs`).

Both draw with the same writers held out, the same share of photographed drawings and the same
vocabulary, so a dataset of one and a dataset of the other can be merged and validated alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from im2markup.paths import data_dir


@dataclass
class HandwritingBuildOptions:
    """Where the data comes from and goes, the held-out writers' share, photographs, workers."""

    name: str = "hw-v2"
    vocab: Path | None = None
    val_fraction: float = 0.08
    seed: int = 0
    photo_fraction: float = 0.3
    limit: int | None = None
    shared: Path | None = None
    out: Path | None = None
    workers: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.photo_fraction <= 1.0:
            raise ValueError(f"photo_fraction must be in [0, 1], got {self.photo_fraction}")

    def folder(self, kind: str) -> Path:
        """`<out or data dir/name>/<kind>`: where a build of that kind is written."""
        return (self.out if self.out is not None else data_dir() / self.name) / kind
