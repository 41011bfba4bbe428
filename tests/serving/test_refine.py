"""Render-and-compare refinement on real test formulas typeset in the paper's style."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.data.vocab import Vocab
from im2markup.latex.detokenizer import detokenize
from im2markup.metrics.image_match import compare_images
from im2markup.model.base import Hypothesis
from im2markup.serving.refine import refine
from im2markup.serving.rerank import rerank

pytestmark = [pytest.mark.latex, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def spaced(im2latex_dir: Path) -> list[str]:
    """Short test formulas with exactly one `\\quad` (a thin space dropped or added is within
    the tolerance of the paper's image match, a quad is not)."""
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    return [line for line in lines[:800] if line.count(r" \quad ") == 1 and len(line.split()) < 40]


def dropped_space_readings(
    formulas: list[str], space: str, count: int
) -> tuple[Vocab, list[tuple[str, Image.Image, Hypothesis]]]:
    """The first `count` formulas rendered in the paper's style, each with a reading that
    leaves `space` out."""
    renders = render_formulas([detokenize(f) for f in formulas[:count]], "paper", processed=True)
    vocab = Vocab(t for formula in formulas for t in formula.split())
    cases = []
    for formula, render in zip(formulas, renders, strict=False):
        dropped = vocab.encode(formula.replace(f" {space} ", " "), add_bos_eos=False)
        cases.append((formula, render.image, Hypothesis(dropped, -0.5)))
    return vocab, cases


def test_a_dropped_quad_is_put_back_where_reranking_cannot(spaced: list[str]):
    vocab, cases = dropped_space_readings(spaced, r"\quad", 12)
    for _, pixels, reading in cases:
        _, reranked_matches = rerank(pixels, [reading], vocab, ("paper",))
        assert not reranked_matches
    assert len(cases) >= 3

    for formula, pixels, reading in cases[:3]:
        refined, matches = refine(pixels, [reading], vocab, ("paper",))
        assert matches and vocab.decode(refined.token_ids) == formula.split()
        assert refined.score == reading.score


@pytest.fixture(scope="module")
def thin(im2latex_dir: Path) -> list[str]:
    """Short test formulas with exactly one thin space `\\,`, at top level, no group after it."""
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    return [
        line
        for line in lines[:800]
        if line.count(r" \, ") == 1 and len(line.split()) < 30 and "{" not in line.split(r"\,")[1]
    ]


def test_a_dropped_thin_space_the_match_tolerates_is_put_back(thin: list[str]):
    vocab, cases = dropped_space_readings(thin, r"\,", 8)
    tolerated = []
    for formula, pixels, reading in cases:
        text = detokenize(" ".join(vocab.decode(reading.token_ids)))
        (dropped_render,) = render_formulas([text], style="paper", processed=True)
        comparison = compare_images(pixels, dropped_render.image)
        if comparison.match and comparison.distance > 0:
            tolerated.append((formula, pixels, reading))
    assert len(tolerated) >= 2

    for formula, pixels, reading in tolerated[:2]:
        refined, matches = refine(pixels, [reading], vocab, ("paper",))
        assert matches and vocab.decode(refined.token_ids) == formula.split()


def test_a_right_reading_is_left_alone(spaced: list[str]):
    formula = spaced[1]
    (render,) = render_formulas([detokenize(formula)], style="paper", processed=True)
    vocab = Vocab(formula.split())
    reading = Hypothesis(vocab.encode(formula, add_bos_eos=False), -0.1)
    refined, matches = refine(render.image, [reading], vocab, ("paper",))
    assert matches and refined is reading
