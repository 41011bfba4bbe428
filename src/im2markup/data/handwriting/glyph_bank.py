"""Real handwritten symbols to draw synthetic formulas with: every segmented CROHME training glyph.

Only the writers the ink dataset trains on give glyphs: the glyph build makes the bank from
the same split (`corpus.crohme_inks.writer_split`), so a validation writer's hand never
reaches synthetic training images. Each glyph is stored with its own
bounding box's top-left corner at the origin, in units of its expression's median symbol height
(`ink_render.symbol_scale`): a dot stays small and a `\\sum` large next to the writer's letters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from im2markup.data.handwriting.ink_render import symbol_scale
from im2markup.data.handwriting.inkml import InkExpression

MAX_GLYPH_SIDE = 12.0
"""A segmented symbol wider or taller than this many symbol heights is a segmentation error,
unless it spans what it covers (`SPANNING`)."""
SPANNING = frozenset({"-", r"\sqrt"})


@dataclass(frozen=True)
class Glyph:
    """One handwritten symbol: its strokes as one `(n, 2)` array, split after each `ends` index."""

    label: str
    writer: str
    points: np.ndarray
    ends: tuple[int, ...]

    @property
    def width(self) -> float:
        return float(self.points[:, 0].max())

    @property
    def height(self) -> float:
        return float(self.points[:, 1].max())

    def traces(self) -> list[np.ndarray]:
        """The strokes, in the glyph's units (float64)."""
        starts = (0, *self.ends[:-1])
        return [self.points[a:b].astype(np.float64) for a, b in zip(starts, self.ends, strict=True)]


def expression_glyphs(ink: InkExpression) -> list[Glyph]:
    """The segmented symbols of one expression, each normalised to its own box."""
    unit = symbol_scale(ink)
    glyphs = []
    for symbol in ink.symbols:
        if not symbol.traces or any(t >= len(ink.traces) for t in symbol.traces):
            continue
        strokes = [ink.traces[t] for t in symbol.traces]
        points = np.concatenate(strokes)
        points = (points - points.min(axis=0)) / unit
        too_large = points.max() > MAX_GLYPH_SIDE and symbol.label not in SPANNING
        if too_large or not np.isfinite(points).all():
            continue
        ends = tuple(np.cumsum([len(s) for s in strokes]).tolist())
        glyphs.append(Glyph(symbol.label, ink.writer, points.astype(np.float32), ends))
    return glyphs


class GlyphBank:
    """Glyphs by class and by writer and class."""

    def __init__(self, glyphs: Iterable[Glyph]):
        self.by_label: dict[str, list[Glyph]] = {}
        self.by_writer: dict[str, dict[str, list[Glyph]]] = {}
        for glyph in glyphs:
            self.by_label.setdefault(glyph.label, []).append(glyph)
            self.by_writer.setdefault(glyph.writer, {}).setdefault(glyph.label, []).append(glyph)
        self.writers: list[str] = sorted(self.by_writer)

    @classmethod
    def from_inks(cls, inks: Iterable[InkExpression]) -> GlyphBank:
        return cls(glyph for ink in inks for glyph in expression_glyphs(ink))

    def __len__(self) -> int:
        return sum(len(glyphs) for glyphs in self.by_label.values())

    def samples(self, label: str, writer: str | None = None) -> Sequence[Glyph]:
        """The glyphs of class `label` (by `writer` only, when given); empty when none."""
        if writer is None:
            return self.by_label.get(label, [])
        return self.by_writer.get(writer, {}).get(label, [])

    def coverage(self, writer: str, labels: Iterable[str]) -> int:
        """How many of `labels` the writer has glyphs of."""
        own = self.by_writer.get(writer, {})
        return sum(label in own for label in labels)

    def summary(self) -> dict[str, object]:
        """Sizes for a manifest: glyphs, writers, glyphs per class."""
        counts = Counter({label: len(glyphs) for label, glyphs in self.by_label.items()})
        classes = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return {"glyphs": len(self), "writers": len(self.writers), "classes": classes}
