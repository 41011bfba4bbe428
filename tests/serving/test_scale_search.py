"""The scale search gives up on readings that cannot win and still chooses as if it had read
every candidate to the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from im2markup.data.formula_images import render_formulas
from im2markup.serving.inputs import prepare_inputs
from im2markup.serving.predictor import Predictor
from im2markup.serving.scale_search import choose_scales

pytestmark = [pytest.mark.shared_data, pytest.mark.latex]

# Long test formulas (87–141 tokens) that IM2LATEX-100K typeset at 200 dpi: twice the
# training scale, so each is read at eight candidate scales and stroke weights.
LONG_FORMULAS = (24, 82, 172)


@pytest.fixture(scope="module")
def long_formulas(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> list[Path]:
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    renders = render_formulas([lines[k] for k in LONG_FORMULAS], style="paper", processed=False)
    folder = tmp_path_factory.mktemp("long")
    for k, render in zip(LONG_FORMULAS, renders, strict=True):
        render.image.save(folder / f"{k}.png")
    return [folder / f"{k}.png" for k in LONG_FORMULAS]


def test_the_search_reads_less_and_chooses_as_reading_everything_would(
    predictor: Predictor, long_formulas: list[Path], monkeypatch: pytest.MonkeyPatch
):
    rows = [0]
    step = predictor.model.step

    def counted(tokens: torch.Tensor, *args: object):
        rows[0] += len(tokens)
        return step(tokens, *args)

    monkeypatch.setattr(predictor.model, "step", counted)
    greedy = predictor._greedy({0: 0.0}, None)
    ways = {"everything": lambda items, floors: greedy(items, None), "search": greedy}
    read = dict.fromkeys(ways, 0)
    for path in long_formulas:
        inputs = prepare_inputs(path, predictor.limits)
        assert len(inputs.candidates) == 8
        choices = {}
        for name, decode in ways.items():
            rows[0] = 0
            choices[name] = choose_scales({0: inputs}, decode)[0]
            read[name] += rows[0]
        assert np.array_equal(choices["search"][0], choices["everything"][0]), path.name
        assert choices["search"][1].token_ids == choices["everything"][1].token_ids
    assert read["search"] < 0.8 * read["everything"], read
