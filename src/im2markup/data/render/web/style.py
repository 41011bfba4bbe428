"""How a web page shows a formula: the engine, the browser's zoom and the colour scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Engine = Literal["katex", "mathjax"]
ENGINES: tuple[Engine, ...] = ("katex", "mathjax")
# Browser zoom (device pixels per CSS pixel) a screenshot is taken at.
MIN_ZOOM = 1.0
MAX_ZOOM = 2.0


@dataclass(frozen=True)
class WebStyle:
    """`engine` typesets display math in a 16 px page at `zoom`, light or `dark` colour scheme."""

    engine: Engine
    zoom: float = 1.0
    dark: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; known: {', '.join(ENGINES)}")
        if not MIN_ZOOM <= self.zoom <= MAX_ZOOM:
            raise ValueError(f"zoom {self.zoom} is outside {MIN_ZOOM}–{MAX_ZOOM}")
