"""Web-typeset training images: shared test formulas screenshot by KaTeX and MathJax at seeded
zooms and themes, brought to the model's scale as `predict` brings a user's image, and built
into a training split with their spaces kept in the label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2markup.data.corpus.build import BuildOptions, build
from im2markup.data.formula_images import render_formulas
from im2markup.data.images.user_images import TRAINING_GLYPH_HEIGHT, glyph_height
from im2markup.data.shards import ShardReader
from im2markup.data.web_styles import WEB_STYLES, ZOOMS, web_style_of
from web_typeset_fixtures import shared_test_formulas, web_typeset


def test_zooms_and_themes_are_seeded_per_item_and_cover_the_range() -> None:
    styles = [web_style_of("katex", 0, k) for k in range(200)]
    assert styles == [web_style_of("katex", 0, k) for k in range(200)]
    assert {s.zoom for s in styles} == set(ZOOMS)
    assert 0.1 < sum(s.dark for s in styles) / len(styles) < 0.4
    assert styles != [web_style_of("katex", 1, k) for k in range(200)]


def test_tex_options_are_refused_for_a_web_style() -> None:
    with pytest.raises(ValueError, match="no TeX options"):
        render_formulas(["x"], "katex", dpi=300)


@web_typeset
@pytest.mark.shared_data
@pytest.mark.parametrize("engine", sorted(WEB_STYLES))
def test_screenshots_come_at_the_model_scale_dark_ink_on_white(
    im2latex_dir: Path, engine: str
) -> None:
    formulas = shared_test_formulas(im2latex_dir, 12)
    results = render_formulas(formulas, engine)
    assert [r.index for r in results] == list(range(12))
    assert sum(r.ok for r in results) >= 11, [r.error for r in results]
    zooms = {web_style_of(engine, 0, r.index).zoom for r in results}
    assert len(zooms) >= 3  # the same scale out of several zooms in
    for result in results:
        if not result.ok:
            continue
        pixels = np.asarray(result.image)
        assert result.image.mode == "L"
        assert pixels[0, 0] == 255 and pixels.min() < 64  # white page, dark ink, dark theme too
        height = glyph_height(pixels)
        assert height is not None
        assert 0.8 < height / TRAINING_GLYPH_HEIGHT < 1.25


@web_typeset
@pytest.mark.shared_data
@pytest.mark.latex
def test_a_build_labels_web_styles_with_their_spaces(tmp_path: Path, shared_dir: Path) -> None:
    options = BuildOptions(
        shared=shared_dir,
        out=tmp_path / "data",
        corpora=("arxiv-extra",),
        styles={"mathjax": 1.0},
        limit=4,
        target_formulas=0,
        render_cache=tmp_path / "renders",
        progress=False,
    )
    manifest = build(options)
    reader = ShardReader(tmp_path / "data" / "train")
    records = [reader.record(i) for i in range(len(reader))]
    web = [r for r in records if r.style == "mathjax"]
    assert {r.style for r in records} == {"mathjax", "shared-image"}
    assert len(web) >= 3
    assert all(r.label == r.alt_label for r in web)
    assert {row["source"] for row in manifest["yields"]} == {"im2latex-val", "arxiv-extra"}
