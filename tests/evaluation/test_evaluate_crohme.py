"""The CROHME 2014 split: model-ready bitmaps, CROHME's expression rates, restricted decoding."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.handwriting.crohme import NORMALIZED_CROHME_TOKENS
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TEST_IMAGES, read_captions
from im2markup.data.vocab import Vocab
from im2markup.evaluation.robustness import run_suite
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import Split, load_split
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def crohme() -> Split:
    return load_split("crohme2014")


def test_split_holds_captions_and_model_ready_images(crohme: Split, shared_dir: Path) -> None:
    captions = read_captions(shared_dir / TEST_CAPTIONS)
    assert len(crohme) == len(captions) == 986
    assert crohme.names[0] == f"{captions[0][0]}_0.bmp" == "18_em_0_0.bmp"
    assert crohme.crohme_golds == [tokens for _, tokens in captions]
    assert crohme.golds[1] == "2 6"
    assert "\\operatorname { s i n }" in crohme.golds[22] and "\\sin" in captions[22][1]
    with tarfile.open(shared_dir / TEST_IMAGES) as tar:
        member = tar.extractfile("off_image_test/18_em_0_0.bmp")
        assert member is not None
        raw = np.asarray(Image.open(io.BytesIO(member.read())).convert("L"))
    image = crohme.input_image(0)
    assert image is not None and image.mode == "L"
    pixels = np.asarray(image)
    # The bitmap is light ink on black; the model reads dark ink on white, with a white margin.
    assert np.median(raw) < 50 and np.median(pixels) > 200
    assert pixels[0].min() > 200 and pixels[-1].min() > 200 and pixels[:, 0].min() > 200
    ink_rows = np.flatnonzero((raw > 128).any(axis=1))
    ink_height = ink_rows[-1] - ink_rows[0] + 1
    assert abs(image.height - (ink_height + 16) / 2) <= 1


def test_scores_are_crohme_expression_rates(tmp_path: Path, crohme: Split) -> None:
    preds = list(crohme.golds)
    preds[1] = "2 7"  # one substitution
    preds[2] = "q _ { t } q"  # "= 2" left out: two errors
    preds[3] = ""  # far off
    preds[7] = "m \\ge 2"  # another spelling of CROHME's \geq: right as an expression
    pred_file = tmp_path / "pred.txt"
    pred_file.write_text("\n".join(preds) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["evaluate", str(pred_file), "--split", "crohme2014", "--no-images", "--out", str(out)]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 986
    assert metrics["expression_rate"] == pytest.approx(100 * 983 / 986)
    assert metrics["expression_rate_le1"] == pytest.approx(100 * 984 / 986)
    assert metrics["expression_rate_le2"] == pytest.approx(100 * 985 / 986)
    assert metrics["token_match"] == pytest.approx(100 * 982 / 986)
    assert 90 < metrics["bleu"] < 100
    table = (out / "metrics.md").read_text()
    assert "| ExpRate | ≤1 error | ≤2 errors | BLEU |" in table
    assert f"| crohme2014 | {100 * 983 / 986:.2f} |" in table


@pytest.mark.latex
def test_suite_decodes_crohme_with_its_symbols_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crohme: Split
) -> None:
    monkeypatch.setenv("IM2MARKUP_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    outside = ["\\mathbf", "\\hat", "\\overline", "\\mathrm", "\\vec", "\\boldsymbol", "\\nabla"]
    vocab = Vocab(["x", "+", "=", "{", "}", *outside])
    cfg = preset("tiny", max_len=6)
    model_dir = save_model(build_model(cfg, len(vocab)), cfg, vocab, tmp_path / "model")
    table, out = run_suite(
        model_dir,
        tmp_path / "suite",
        split=crohme.head(3),
        transforms=["original"],
        beam_size=2,
        render=RenderOptions(progress=False),
    )
    assert "ExpRate" in table.splitlines()[0]
    lines = (out / "original" / "items.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines]
    written = {token for item in items for token in (item["pred"] or "").split()}
    # Unrestricted, this model writes `\boldsymbol \mathbf …` for every one of these images.
    assert written and written <= NORMALIZED_CROHME_TOKENS
