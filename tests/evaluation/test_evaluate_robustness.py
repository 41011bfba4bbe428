"""The robustness suite: the transforms on a real image, and the suite with a small random model."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from im2markup.data.images.user_images import load_user_image
from im2markup.data.vocab import Vocab
from im2markup.evaluation.robustness import TYPESET, WEB, condition_images, run_suite
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import Split, split_from_file
from im2markup.evaluation.transforms import TRANSFORMS
from im2markup.metrics.image_match import ink_columns
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model
from im2markup.paths import web_assets_dir
from web_typeset_fixtures import web_typeset


@pytest.fixture(scope="module")
def formula_image(im2latex_dir: Path) -> Image.Image:
    with tarfile.open(im2latex_dir / "images_test.tar") as tar:
        return Image.open(io.BytesIO(tar.extractfile("5.png").read())).convert("L")


def apply(name: str, image: Image.Image, seed: int = 0) -> Image.Image:
    return TRANSFORMS[name](image, np.random.default_rng(seed))


@pytest.mark.shared_data
def test_transforms_change_what_they_say(formula_image: Image.Image) -> None:
    w, h = formula_image.size
    assert apply("scale ×0.5", formula_image).size == (round(w / 2), round(h / 2))
    assert apply("scale ×3", formula_image).size == (3 * w, 3 * h)
    assert apply("margins 64 px", formula_image).size == (w + 128, h + 128)
    assert apply("colour", formula_image).mode == "RGB"
    dark = np.asarray(apply("light on dark", formula_image))
    assert np.median(dark) < 60 and dark.max() > 200  # dark page, light strokes
    noisy = np.asarray(apply("noise σ20", formula_image), dtype=np.int16)
    assert np.abs(noisy - np.asarray(formula_image, dtype=np.int16)).mean() > 5
    assert apply("noise σ20", formula_image, 3) == apply("noise σ20", formula_image, 3)

    page = apply("screenshot", formula_image)
    assert page.size[0] >= 1280 and page.size[1] >= 800
    body = np.asarray(page.convert("L"))[48:]  # below the title bar
    ink = ink_columns(body)
    assert ink.shape == ink_columns(formula_image).shape  # the formula, whole, and nothing else


@pytest.fixture
def random_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IM2MARKUP_WEB_ASSETS", str(web_assets_dir()))  # installed once, kept
    monkeypatch.setenv("IM2MARKUP_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    vocab = Vocab(["x", "+", "1", "=", "y", "^", "{", "}"])
    cfg = preset("tiny", attention="sparsemax", max_len=6)
    return save_model(build_model(cfg, len(vocab)), cfg, vocab, tmp_path / "model")


def gold_split(im2latex_dir: Path, tmp_path: Path, n: int) -> Split:
    golds = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()[:n]
    gold_file = tmp_path / "gold.txt"
    gold_file.write_text("\n".join(golds) + "\n")
    return split_from_file(gold_file)


@pytest.mark.latex
@pytest.mark.shared_data
def test_suite_scores_transformed_images_with_attention_for_wrong_ones(
    im2latex_dir: Path, tmp_path: Path, random_model_dir: Path
) -> None:
    table, out = run_suite(
        random_model_dir,
        tmp_path / "suite",
        split=gold_split(im2latex_dir, tmp_path, 1),
        transforms=["original", "screenshot", "typeset ×3 thin"],
        beam_size=2,
        render=RenderOptions(progress=False),
    )
    rows = [row.split(" | ")[0] for row in table.splitlines()[2:]]
    assert rows == ["| original", "| screenshot", "| typeset ×3 thin"]
    results = json.loads((out / "robustness.json").read_text())
    assert all(r["n"] == 1 and r["n_images"] == 1 for r in results.values())
    assert (out / "screenshot" / "report.html").is_file()
    item = json.loads((out / "original" / "items.jsonl").read_text())
    assert item["pred"] and not item["image_match"]  # a random model reads nonsense
    assert (out / "original" / "report_files" / item["files"]["attention"]).is_file()
    with pytest.raises(ValueError, match="unknown transforms"):
        run_suite(random_model_dir, tmp_path / "x", split=gold_split(im2latex_dir, tmp_path, 1),
                  transforms=["sepia"])  # fmt: skip


@pytest.mark.shared_data
def test_web_conditions_without_a_browser_fail_before_any_row(
    im2latex_dir: Path, tmp_path: Path, random_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="need Debian's chromium"):
        run_suite(random_model_dir, out, split=gold_split(im2latex_dir, tmp_path, 1),
                  transforms=["original", "KaTeX 100%"])  # fmt: skip
    assert not out.exists()


@web_typeset
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["KaTeX 150% dark", "MathJax 125%"])
def test_web_conditions_give_images_the_reader_accepts(
    im2latex_dir: Path, tmp_path: Path, name: str
) -> None:
    split = gold_split(im2latex_dir, tmp_path, 2)
    images = condition_images(name, [None] * len(split), split, RenderOptions(progress=False))
    assert len(images) == 2 and all(image is not None for image in images)
    for image in images:
        read = np.asarray(load_user_image(image))
        assert np.median(read) > 200 and read.min() < 100  # dark ink on white, whatever the theme


@web_typeset
@pytest.mark.latex
@pytest.mark.shared_data
def test_suite_scores_a_web_condition(
    im2latex_dir: Path, tmp_path: Path, random_model_dir: Path
) -> None:
    table, out = run_suite(
        random_model_dir,
        tmp_path / "suite",
        split=gold_split(im2latex_dir, tmp_path, 1),
        transforms=["MathJax 200% dark"],
        beam_size=1,
        render=RenderOptions(progress=False),
    )
    assert [row.split(" | ")[0] for row in table.splitlines()[2:]] == ["| MathJax 200% dark"]
    result = json.loads((out / "robustness.json").read_text())["MathJax 200% dark"]
    assert result["n"] == 1 and result["n_images"] == 1


@pytest.mark.slow
@web_typeset
@pytest.mark.latex
@pytest.mark.shared_data
def test_suite_runs_every_transform(
    im2latex_dir: Path, tmp_path: Path, random_model_dir: Path
) -> None:
    table, out = run_suite(
        random_model_dir,
        tmp_path / "suite",
        split=gold_split(im2latex_dir, tmp_path, 2),
        beam_size=2,
        render=RenderOptions(progress=False),
    )
    rows = table.splitlines()[2:]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [*TRANSFORMS, *TYPESET, *WEB]
    results = json.loads((out / "robustness.json").read_text())
    assert set(results) == {*TRANSFORMS, *TYPESET, *WEB}
    assert all(r["n"] == 2 and r["n_images"] == 2 for r in results.values())


@pytest.mark.latex
@pytest.mark.shared_data
def test_cli_runs_only_the_named_conditions(tmp_path: Path, random_model_dir: Path) -> None:
    from im2markup.cli.main import main

    out = tmp_path / "suite"
    args = ["evaluate", "--suite", "robustness", "--model", str(random_model_dir), "--limit", "1"]
    assert main([*args, "--conditions", "noise σ20", "--beam", "1", "--out", str(out)]) == 0
    assert list(json.loads((out / "robustness.json").read_text())) == ["noise σ20"]
