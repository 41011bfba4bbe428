"""Render-verified reranking on real shared images and their real formulas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2markup.data.vocab import Vocab
from im2markup.model.base import Hypothesis
from im2markup.serving.inputs import native_image
from im2markup.serving.limits import Limits
from im2markup.serving.rerank import rerank, score_candidates
from serving_fixtures import extract_test_images

pytestmark = [pytest.mark.latex, pytest.mark.shared_data]


IMAGE_ID = 3  # \Gamma ( z + 1 ) = \int _ { 0 } ^ { \infty } d x e ^ { - x } x ^ { z } .


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> tuple[np.ndarray, str]:
    """A shared test image at its own scale, and the formula it shows."""
    (path,) = extract_test_images(im2latex_dir, (IMAGE_ID,), tmp_path_factory.mktemp("verify"))
    lines = (im2latex_dir / "formulas" / "test.formulas.nospace.txt").read_text().splitlines()
    return native_image(path, Limits()), lines[IMAGE_ID]


def near_misses(formula: str) -> list[str]:
    """Wrong formulas a beam could plausibly hold: changed symbols (small enough that the
    paper's tolerant exact match may still accept them) and a dropped superscript."""
    return [formula.replace("z", "y"), formula.replace("^ { - x }", ""), formula.replace("0", "1")]


def far_misses(formula: str) -> list[str]:
    """Wrong formulas no tolerance accepts: a dropped superscript, an added term."""
    return [formula.replace("^ { - x }", ""), formula.replace("x ^ { z }", "x ^ { z + 1 }")]


def test_the_true_formula_renders_closest(case: tuple[np.ndarray, str]):
    pixels, formula = case
    wrong = near_misses(formula)
    assert all(w != formula for w in wrong)
    candidates = score_candidates(pixels, [*wrong, formula])
    assert all(c.comparison is not None for c in candidates)
    best = min(candidates, key=lambda c: c.sort_key)
    assert best.latex == formula
    assert best.comparison.match
    assert best.style == "shared"
    assert all(c.comparison.distance > best.comparison.distance for c in candidates[:-1])


def test_rerank_prefers_the_matching_hypothesis_over_beam_order(case: tuple[np.ndarray, str]):
    pixels, formula = case
    texts = [*near_misses(formula), formula]
    vocab = Vocab(t for text in texts for t in text.split())
    hypotheses = [
        Hypothesis(vocab.encode(t, add_bos_eos=False), -1.0 - k) for k, t in enumerate(texts)
    ]
    chosen, matched = rerank(pixels, hypotheses, vocab)
    assert chosen is hypotheses[-1]
    assert matched is True


def test_rerank_flags_no_match_when_nothing_matches(case: tuple[np.ndarray, str]):
    pixels, formula = case
    texts = far_misses(formula)
    vocab = Vocab(t for text in texts for t in text.split())
    hypotheses = [Hypothesis(vocab.encode(t, add_bos_eos=False), -1.0) for t in texts]
    _, matched = rerank(pixels, hypotheses, vocab)
    assert matched is False


def test_unrenderable_candidates_lose(case: tuple[np.ndarray, str]):
    pixels, formula = case
    candidates = score_candidates(pixels, ["\\frac { x", formula])
    assert candidates[0].comparison is None
    assert min(candidates, key=lambda c: c.sort_key).rank == 1
