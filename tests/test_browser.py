"""The web page in a real browser: upload a shared test image, read the LaTeX, hover a token.

Uses Debian's chromium through Playwright (no browser download); skipped without it.
`IM2MARKUP_SCREENSHOT=docs/screenshot.png` also keeps the page's screenshot there.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from im2markup.serving.app import create_app
from im2markup.serving.limits import ServerLimits
from im2markup.serving.predictor import load_model
from serving_fixtures import (
    bundled_model_dir,
    extract_test_images,
    gold_labels,
    one_torch_thread,
    running_server,
    save_random_model,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IMAGE_ID = 3

pytestmark = [
    pytest.mark.browser,
    pytest.mark.shared_data,
    pytest.mark.latex,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    yield from one_torch_thread()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    bundled = bundled_model_dir()
    if bundled is not None:
        return bundled
    formulas = im2latex_dir / "formulas" / "val.formulas.norm.txt"
    return save_random_model(tmp_path_factory.mktemp("model"), formulas)


def test_upload_shows_the_latex_render_and_attention(
    tmp_path: Path, im2latex_dir: Path, model_dir: Path
):
    from playwright.sync_api import expect, sync_playwright

    (image,) = extract_test_images(im2latex_dir, (IMAGE_ID,), tmp_path)
    predictor = load_model(model_dir)
    expected = predictor.predict(image)
    app = create_app(predictor, limits=ServerLimits(workers=1, queue_size=2))
    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 820})
            page.goto(url)
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
        finally:
            browser.close()
    assert (tmp_path / "page.png").stat().st_size > 10_000
    if os.environ.get("IM2MARKUP_SCREENSHOT"):
        shutil.copy(tmp_path / "page.png", os.environ["IM2MARKUP_SCREENSHOT"])


def test_bad_upload_shows_the_server_reason(tmp_path: Path, model_dir: Path):
    from playwright.sync_api import expect, sync_playwright

    blank = tmp_path / "blank.png"
    Image.new("L", (300, 60), 255).save(blank)
    app = create_app(load_model(model_dir), limits=ServerLimits(workers=1, queue_size=2))
    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.set_input_files("#file", str(blank))
            status = page.locator("#status.error")
            expect(status).to_contain_text("blank.png", timeout=30_000)
            expect(status).to_contain_text("no ink")
            expect(page.locator("#result")).to_be_hidden()
        finally:
            browser.close()


MAKE_TRANSFER = """(b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
    return transfer;
}"""


def test_drop_and_paste_both_predict(tmp_path: Path, im2latex_dir: Path, model_dir: Path):
    from playwright.sync_api import expect, sync_playwright

    first, second = extract_test_images(im2latex_dir, (1, 3), tmp_path)
    predictor = load_model(model_dir)
    expected = [predictor.predict(first).latex, predictor.predict(second).latex]
    assert expected[0] != expected[1], "the two images must give different LaTeX"
    encoded = [base64.b64encode(path.read_bytes()).decode() for path in (first, second)]
    app = create_app(predictor, limits=ServerLimits(workers=1, queue_size=2))
    with running_server(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
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
        finally:
            browser.close()
