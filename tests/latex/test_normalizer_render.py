"""Normalizing must not change the picture: raw Wikipedia formulas against their normal form.

Images are compared with the paper's exact match after dropping blank columns
(`ImageComparison.match_nows`): binarized, column-aligned, columns differing in fewer than 5
pixels equal. The default run uses a fixed sample; the full 8,275 formulas are `slow`.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from im2markup.latex.normalizer import normalize

pytestmark = [pytest.mark.latex, pytest.mark.shared_data]


def _match_rate(raw: list[str]) -> float:
    from im2markup.data.formula_images import render_formulas
    from im2markup.metrics.image_match import compare_images

    normalized = [normalize(formula) for formula in raw]
    pairs = [(r, n.text) for r, n in zip(raw, normalized, strict=True) if n.ok]
    images = render_formulas([r for r, _ in pairs] + [n for _, n in pairs], style="paper")
    originals, rewritten = images[: len(pairs)], images[len(pairs) :]
    compiled = [(a, b) for a, b in zip(originals, rewritten, strict=True) if a.ok]
    assert len(compiled) > 0.9 * len(raw)
    matches = sum(b.ok and compare_images(a.image, b.image).match_nows for a, b in compiled)
    return matches / len(compiled)


def _wikipedia(shared_dir: Path) -> list[str]:
    return (shared_dir / "corpora" / "wikipedia_math.txt").read_text(encoding="utf-8").splitlines()


def test_normalizing_keeps_the_image_on_a_sample(shared_dir: Path) -> None:
    sample = random.Random(0).sample(_wikipedia(shared_dir), 400)
    assert _match_rate(sample) >= 0.95


@pytest.mark.slow
def test_normalizing_keeps_the_image_on_all_wikipedia(shared_dir: Path) -> None:
    assert _match_rate(_wikipedia(shared_dir)) >= 0.95
