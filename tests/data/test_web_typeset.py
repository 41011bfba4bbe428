"""KaTeX and MathJax in headless Chromium: real formulas of the shared test set, typeset as a
web page shows them; refused formulas fail alone; nothing reaches beyond local files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.render.web import ENGINES, WebStyle, WebTypesetter
from im2markup.data.render.web.local_site import ORIGIN
from web_typeset_fixtures import WEB_TYPESET, shared_test_formulas

pytestmark = WEB_TYPESET


@pytest.fixture(scope="module")
def typesetter() -> Iterator[WebTypesetter]:
    """One browser for the module, as a caller rendering many batches would keep it."""
    with WebTypesetter() as typesetter:
        yield typesetter


@pytest.fixture(scope="module")
def formulas(im2latex_dir: Path) -> list[str]:
    return shared_test_formulas(im2latex_dir, 3)


def ink_box(image: Image.Image) -> tuple[int, int]:
    """Width and height of the pixels that differ clearly from the image's corner (the page)."""
    pixels = np.asarray(image, dtype=np.int16)
    ink = np.abs(pixels - pixels[0, 0]) > 64
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


@pytest.mark.shared_data
@pytest.mark.parametrize("engine", ENGINES)
def test_a_test_formula_renders_and_its_ink_grows_with_zoom(
    typesetter: WebTypesetter, formulas: list[str], engine: str
) -> None:
    small, large = (
        typesetter.render(formulas[:1], WebStyle(engine, zoom))[0] for zoom in (1.0, 2.0)
    )
    assert small.ok and large.ok, (small.error, large.error)
    assert small.image.mode == "L"
    (w1, h1), (w2, h2) = ink_box(small.image), ink_box(large.image)
    assert w1 > 100 and h1 > 15  # a whole formula, not a speck
    assert 1.8 < w2 / w1 < 2.2 and 1.7 < h2 / h1 < 2.3


@pytest.mark.shared_data
@pytest.mark.parametrize("engine", ENGINES)
def test_dark_scheme_is_light_ink_on_a_dark_page(
    typesetter: WebTypesetter, formulas: list[str], engine: str
) -> None:
    light, dark = (
        np.asarray(typesetter.render(formulas[1:2], WebStyle(engine, 1.5, dark))[0].image)
        for dark in (False, True)
    )
    assert np.median(light) > 200 and light.min() < 80
    assert np.median(dark) < 60 and dark.max() > 200
    assert np.median(dark[0]) < 60 and np.median(light[0]) > 200  # the margin is page


@pytest.mark.shared_data
@pytest.mark.parametrize("engine", ENGINES)
def test_refused_formulas_fail_alone(
    typesetter: WebTypesetter, formulas: list[str], engine: str
) -> None:
    hostile = {
        r"\notacommand { x }": r"\notacommand",
        r"\href { file:///etc/passwd } { x }": r"\href",
        r"\includegraphics { /etc/passwd }": r"\includegraphics",
    }
    batch = [formulas[0], *hostile, formulas[1], ""]
    refused_before = len(typesetter.refused_requests)
    results = typesetter.render(batch, WebStyle(engine))
    assert [r.index for r in results] == list(range(len(batch)))
    assert results[0].ok and results[4].ok
    for result, command in zip(results[1:4], hostile.values(), strict=True):
        assert result.image is None
        assert command in result.error
    assert results[5].error == "empty formula"
    assert typesetter.refused_requests[refused_before:] == []  # nothing was even asked for


@pytest.mark.shared_data
def test_a_batch_past_its_deadline_fails_alone(
    typesetter: WebTypesetter, formulas: list[str]
) -> None:
    style = WebStyle("katex")
    late = typesetter.render(formulas, style, timeout=0.001)
    assert all(r.image is None and "timed out" in r.error for r in late)
    assert all(r.ok for r in typesetter.render(formulas, style))


def test_the_page_reaches_local_files_only(typesetter: WebTypesetter) -> None:
    """A request from the page to anywhere but the site's local files is refused."""
    page = typesetter.page(WebStyle("katex"))
    fetch = "(url) => fetch(url).then(() => 'loaded', () => 'refused')"
    assert page.evaluate(fetch, f"{ORIGIN}/page/typeset.js") == "loaded"
    outside = [
        "http://example.com/",
        f"{ORIGIN}/page/%2e%2e/%2e%2e/etc/passwd",
        f"{ORIGIN}/etc/passwd",
    ]
    assert [page.evaluate(fetch, url) for url in outside] == ["refused"] * len(outside)
    assert set(typesetter.refused_requests) >= {"http://example.com/", f"{ORIGIN}/etc/passwd"}
