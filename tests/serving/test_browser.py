"""The web page in a real browser: upload a shared test image, read the LaTeX, hover a token.

Uses Debian's chromium through Playwright (no browser download); skipped without it.
`IM2MARKUP_SCREENSHOT=docs/screenshot.png` also keeps the page's screenshot there.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from im2markup.data.render.web.typesetter import CHROMIUM_ARGS
from im2markup.serving.app import create_app
from im2markup.serving.limits import ServerLimits
from im2markup.serving.predictor import Predictor
from serving_fixtures import TEST_IMAGE_IDS, bundled_model_dir, gold_labels, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium")
IMAGE_ID = 3

pytestmark = [
    pytest.mark.browser,
    pytest.mark.shared_data,
    pytest.mark.latex,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]


@contextmanager
def browser_page(app: object, **page_options: object) -> Iterator[Page]:
    """A chromium page showing `app`, which is served on a free local port meanwhile."""
    from playwright.sync_api import sync_playwright

    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.goto(url)
            yield page
        finally:
            browser.close()


def test_upload_shows_the_latex_render_and_attention(
    tmp_path: Path, im2latex_dir: Path, predictor: Predictor, images: list[Path]
):
    from playwright.sync_api import expect

    image = images[TEST_IMAGE_IDS.index(IMAGE_ID)]
    expected = predictor.predict(image)
    app = create_app(predictor, limits=ServerLimits(workers=1, queue_size=2))
    with browser_page(app, viewport={"width": 1100, "height": 820}) as page:
        expect(page.locator("#result")).to_be_hidden()
        page.set_input_files("#file", str(image))
        latex = page.locator("#latex")
        expect(latex).not_to_be_empty(timeout=60_000)
        assert latex.inner_text() == expected.latex
        if bundled_model_dir() is not None:
            assert expected.tokens in gold_labels(im2latex_dir, (IMAGE_ID,))[0]
        expect(page.locator("#input-img")).to_be_visible()
        expect(page.locator("#render-img:visible, #render-error:visible")).to_have_count(1)
        tokens = page.locator("#tokens .token")
        assert tokens.count() == len(expected.tokens.split())
        tokens.nth(0).hover()
        expect(page.locator("#heat")).to_be_visible()
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        page.locator("#copy").click()
        expect(page.locator("#copy")).to_have_text("Copied")
        assert not page.locator("#status.error").count()
    assert (tmp_path / "page.png").stat().st_size > 10_000
    if os.environ.get("IM2MARKUP_SCREENSHOT"):
        shutil.copy(tmp_path / "page.png", os.environ["IM2MARKUP_SCREENSHOT"])


def test_bad_upload_shows_the_server_reason(tmp_path: Path, predictor: Predictor):
    from playwright.sync_api import expect

    blank = tmp_path / "blank.png"
    Image.new("L", (300, 60), 255).save(blank)
    app = create_app(predictor, limits=ServerLimits(workers=1, queue_size=2))
    with browser_page(app) as page:
        page.set_input_files("#file", str(blank))
        status = page.locator("#status.error")
        expect(status).to_contain_text("blank.png", timeout=30_000)
        expect(status).to_contain_text("no ink")
        expect(page.locator("#result")).to_be_hidden()


MAKE_TRANSFER = """(b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
    return transfer;
}"""


def test_drop_and_paste_both_predict(predictor: Predictor, images: list[Path]):
    from playwright.sync_api import expect

    first, second = (images[TEST_IMAGE_IDS.index(i)] for i in (1, 3))
    expected = [predictor.predict(first).latex, predictor.predict(second).latex]
    assert expected[0] != expected[1], "the two images must give different LaTeX"
    encoded = [base64.b64encode(path.read_bytes()).decode() for path in (first, second)]
    app = create_app(predictor, limits=ServerLimits(workers=1, queue_size=2))
    with browser_page(app) as page:
        latex = page.locator("#latex")
        dropped = page.evaluate_handle(MAKE_TRANSFER, encoded[0])
        page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        expect(latex).to_have_text(expected[0], timeout=60_000)
        pasted = page.evaluate_handle(MAKE_TRANSFER, encoded[1])
        page.evaluate(
            "(t) => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: t }))",
            pasted,
        )
        expect(latex).to_have_text(expected[1], timeout=60_000)
