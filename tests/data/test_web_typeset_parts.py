"""The parts of the web-typeset renderer that need no browser: the files the page may load,
cutting a formula out of a screenshot, and the styles it takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2markup.data.render.web import WebStyle
from im2markup.data.render.web.assets import PAGE_DIR
from im2markup.data.render.web.crop import crop_formula, page_background
from im2markup.data.render.web.local_site import ORIGIN, LocalSite


def test_crop_keeps_the_ink_and_a_margin_of_page() -> None:
    strip = np.full((60, 200), 16, np.uint8)  # a dark page
    strip[20:30, 50:120] = 235
    strip[20:30, 150:160] = 235  # the next formula's ink, outside the box
    assert page_background(strip) == 16
    image = crop_formula(strip, (40, 10, 130, 50), 16, margin=3)
    assert image.size == (70 + 6, 10 + 6)
    pixels = np.asarray(image)
    assert (pixels[3:-3, 3:-3] == 235).all() and (pixels[:3] == 16).all()
    assert crop_formula(strip, (0, 0, 40, 60), 16, margin=3) is None


def test_style_bounds_the_zoom_and_names_the_engine() -> None:
    with pytest.raises(ValueError, match="zoom"):
        WebStyle("katex", 3.0)
    with pytest.raises(ValueError, match="engine"):
        WebStyle("mathml")


def test_the_site_serves_its_own_files_only(tmp_path: Path) -> None:
    engine = tmp_path / "node_modules" / "katex" / "katex.min.js"
    engine.parent.mkdir(parents=True)
    engine.write_text("//")
    (tmp_path / "secret.txt").write_text("no")
    site = LocalSite(PAGE_DIR, tmp_path)
    assert site.local_path(site.url("katex.html")) == PAGE_DIR / "katex.html"
    assert site.local_path(f"{ORIGIN}/node_modules/katex/katex.min.js") == engine.resolve()
    for url in (
        f"{ORIGIN}/node_modules/../secret.txt",
        f"{ORIGIN}/node_modules/%2e%2e/secret.txt",
        f"{ORIGIN}/page/../../../../etc/passwd",
        f"{ORIGIN}/page/missing.js",
        f"{ORIGIN}/etc/passwd",
        "file:///etc/passwd",
        "http://example.com/page/katex.html",
    ):
        assert site.local_path(url) is None, url
