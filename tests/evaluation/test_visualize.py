"""Attention visualization: heat-map geometry, coarse cells, and a small random model end to end."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.vocab import Vocab
from im2markup.evaluation.attention_viz import (
    COARSE_COLOUR,
    LABEL_HEIGHT,
    TILE_GAP,
    coarse_boxes,
    heat_maps,
    selected_coarse_cells,
)
from im2markup.evaluation.visualize import explain, write_visualization
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model


def test_heat_map_cell_covers_its_share_of_the_image() -> None:
    attention = np.zeros((2, 2, 4), dtype=np.float32)
    attention[0, 1, 2] = 0.3
    attention[1] = 0.125  # uniform
    maps = heat_maps(attention, (40, 20))
    assert maps.shape == (2, 20, 40)
    rows, cols = np.nonzero(maps[0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 19, 20, 29)
    assert maps[0].max() == 1.0  # normalized to its strongest cell
    assert np.all(maps[1] == 1.0)


def test_selected_coarse_cells_sparse_and_dense() -> None:
    coarse = np.full((1, 2, 3), 0.1, dtype=np.float32)
    coarse[0, 0, 1] = 0.5
    sparse_fine = np.zeros((1, 8, 12), dtype=np.float32)
    sparse_fine[0, 5, 1], sparse_fine[0, 2, 10] = 0.7, 0.3  # coarse cells (1, 0) and (0, 2)
    assert selected_coarse_cells(coarse, sparse_fine) == [[(0, 2), (1, 0)]]
    dense_fine = np.full((1, 8, 12), 1 / 96, dtype=np.float32)
    assert selected_coarse_cells(coarse, dense_fine) == [[(0, 1)]]


def test_coarse_box_spans_four_by_four_fine_cells() -> None:
    assert coarse_boxes([(0, 1)], (8, 32), (256, 64)) == [(32, 0, 63, 31)]
    assert coarse_boxes([(1, 6)], (6, 25), (200, 50)) == [(192, 33, 199, 49)]  # clipped


@pytest.fixture(scope="module")
def formula_image(im2latex_dir: Path) -> Image.Image:
    with tarfile.open(im2latex_dir / "images_test.tar") as tar:
        return Image.open(io.BytesIO(tar.extractfile("3.png").read())).convert("L")


def random_model(attention: str) -> tuple[torch.nn.Module, Vocab]:
    torch.manual_seed(0)
    vocab = Vocab(f"tok{i}" for i in range(12))
    model = build_model(preset("tiny", attention=attention, max_len=9), len(vocab))
    return model.eval(), vocab


def strip_tiles(strip: Image.Image, height: int) -> int:
    tile = LABEL_HEIGHT + height + TILE_GAP
    assert strip.height % tile == 0
    return strip.height // tile


@pytest.mark.shared_data
@pytest.mark.parametrize("attention", ["standard", "sparsemax", "hard"])
def test_random_model_strip_and_page(
    attention: str, formula_image: Image.Image, tmp_path: Path
) -> None:
    model, vocab = random_model(attention)
    explanation = explain(model, vocab, np.asarray(formula_image), beam_size=2)
    n = len(explanation.tokens)
    assert n > 0 and explanation.attention.shape[0] == n
    assert np.allclose(explanation.attention.reshape(n, -1).sum(axis=1), 1.0, atol=1e-4)
    maps = heat_maps(explanation.attention, formula_image.size)
    assert np.allclose(maps.reshape(n, -1).max(axis=1), 1.0) and maps.min() >= 0.0

    strip_path, page_path = write_visualization(formula_image, explanation, tmp_path, "f3")
    strip = Image.open(strip_path).convert("RGB")
    assert strip.width == formula_image.width
    assert strip_tiles(strip, formula_image.height) == n
    colours = {tuple(c) for c in np.asarray(strip).reshape(-1, 3)}
    assert (COARSE_COLOUR in colours) == (attention != "standard")

    page = page_path.read_text()
    assert page.count("<span>") == n
    data = json.loads(re.search(r"id='attention-data'>(.*?)</script>", page, re.S).group(1))
    assert len(data["fine"]) == n
    assert (len(data["coarse"]) == n) == (attention != "standard")
    if attention == "hard":  # hard attention picks exactly one coarse cell per token
        assert all(len(boxes) == 1 for boxes in data["coarse"])


@pytest.mark.shared_data
def test_visualize_command_reads_a_user_image(
    formula_image: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model, vocab = random_model("hierarchical")
    model_dir = save_model(model, model.cfg, vocab, tmp_path / "model")
    image_path = tmp_path / "formula.png"
    formula_image.convert("RGB").save(image_path)  # a user's file, not the model's input form
    out = tmp_path / "out"
    args = ["visualize", str(image_path), "--model", str(model_dir), "--out", str(out)]
    assert main([*args, "--beam", "2"]) == 0
    tokens = capsys.readouterr().out.splitlines()[0].split()
    strip = Image.open(out / "formula.attention.png")
    input_height = strip.height // len(tokens) - LABEL_HEIGHT - TILE_GAP
    assert strip.height == len(tokens) * (LABEL_HEIGHT + input_height + TILE_GAP)
    assert input_height in (32, 64, 96, 128, 160)  # the model's input: a padded bucket
    assert "attention-data" in (out / "formula.attention.html").read_text()


def test_visualize_command_names_a_missing_image(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model, vocab = random_model("standard")
    model_dir = save_model(model, model.cfg, vocab, tmp_path / "model")
    assert main(["visualize", str(tmp_path / "none.png"), "--model", str(model_dir)]) == 2
    assert "none.png" in capsys.readouterr().err
