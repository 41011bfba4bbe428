"""Formulas → screenshots of KaTeX or MathJax in headless Chromium, many to a page.

One browser serves every batch; each style (engine, zoom, colour scheme) keeps one page,
which typesets a batch of formulas one below the other, reports each formula's box or the
engine's reason for refusing it, and is photographed in a few tall strips that are cut into
one image per formula. A batch that runs past its deadline fails alone (its page is thrown
away and a fresh one serves the next batch); a refused formula fails alone. The page loads
only local files (`local_site`).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from im2markup.data.render.checks import MAX_CHARS
from im2markup.data.render.renderer import RenderResult
from im2markup.data.render.web.assets import PAGE_DIR, ensure_assets
from im2markup.data.render.web.crop import Box, crop_formula, page_background
from im2markup.data.render.web.local_site import LocalSite
from im2markup.data.render.web.style import WebStyle
from im2markup.latex.detokenizer import detokenize

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--force-color-profile=srgb",
]
VIEWPORT = {"width": 1280, "height": 800}
BATCH_SIZE = 64
BATCH_TIMEOUT_S = 60.0
PAGE_LOAD_TIMEOUT_S = 30.0
# CSS pixels around a formula's box searched for ink (glyphs may overhang their box; the next
# formula is 24 px away), and the margin left around the ink.
SEARCH_CSS = 8
MARGIN_CSS = 4
# Device pixels of one screenshot strip, well inside what Chromium captures in one piece.
STRIP_HEIGHT = 4000


# A formula's image, or None and the reason it has none.
_Outcome = tuple[Image.Image | None, str | None]


class BrowserMissing(RuntimeError):
    """No Chromium to typeset in."""


class WebTypesetter:
    """A headless Chromium that typesets formulas; use as a context manager."""

    def __init__(self, executable: str | None = None, assets: Path | None = None):
        self._executable = executable or shutil.which("chromium")
        if self._executable is None:
            raise BrowserMissing("chromium is not installed")
        self._site = LocalSite(PAGE_DIR, assets or ensure_assets())
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._pages: dict[WebStyle, tuple[BrowserContext, Page]] = {}

    @property
    def refused_requests(self) -> list[str]:
        """Every address a page asked for that is not a local file of the site."""
        return list(self._site.refused)

    def __enter__(self) -> WebTypesetter:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=self._executable, args=CHROMIUM_ARGS
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._pages.clear()
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()

    def render(
        self,
        formulas: Sequence[str],
        style: WebStyle,
        *,
        batch_size: int = BATCH_SIZE,
        timeout: float = BATCH_TIMEOUT_S,
    ) -> list[RenderResult]:
        """One `RenderResult` per formula, in order: a grayscale screenshot cropped to the
        formula, or None and why (the engine refused it, it drew nothing, its batch took over
        `timeout` seconds).

        The page gets each formula as a web page carries it, compact LaTeX (`detokenize`): the
        engines read `\\hspace{0.5in}` but not the normalized `\\hspace { 0 . 5 i n }`.
        """
        written = [detokenize(formula) for formula in formulas]
        results: list[RenderResult] = []
        for start in range(0, len(written), batch_size):
            batch = written[start : start + batch_size]
            outcomes = self._batch(batch, style, timeout)
            results += [
                RenderResult(start + k, image, error) for k, (image, error) in enumerate(outcomes)
            ]
        return results

    def _batch(self, formulas: list[str], style: WebStyle, timeout: float) -> list[_Outcome]:
        """The outcome of each formula of one batch: refused here, or typeset in the browser."""
        outcomes: list[_Outcome] = [(None, _refusal(formula)) for formula in formulas]
        todo = [k for k, (_, error) in enumerate(outcomes) if error is None]
        if todo:
            typeset = self._typeset([formulas[k] for k in todo], style, timeout)
            for k, outcome in zip(todo, typeset, strict=True):
                outcomes[k] = outcome
        return outcomes

    def _typeset(self, formulas: list[str], style: WebStyle, timeout: float) -> list[_Outcome]:
        """Typeset and photograph `formulas` on the page of `style` within `timeout` seconds."""
        from playwright.sync_api import Error

        deadline = time.monotonic() + timeout
        try:
            page = self.page(style)
            page.evaluate("(formulas) => startBatch(formulas)", formulas)
            result = page.wait_for_function(
                "() => window.batchResult", timeout=_ms_left(deadline)
            ).json_value()
            if "failed" in result:
                raise Error(result["failed"])
            images = _photograph(page, result["items"], style.zoom, deadline)
        except Error as error:
            self._discard(style)
            if time.monotonic() >= deadline:
                reason = f"timed out: the batch took over {timeout:g} s"
            else:
                reason = f"browser error: {error.message.strip()[:200]}"
            return [(None, reason)] * len(formulas)
        return [
            (None, item["error"] or "the formula drew nothing") if image is None else (image, None)
            for item, image in zip(result["items"], images, strict=True)
        ]

    def page(self, style: WebStyle) -> Page:
        """The page of `style`, loaded with its engine (made on first use)."""
        if style not in self._pages:
            assert self._browser is not None, "use WebTypesetter as a context manager"
            context = self._browser.new_context(
                viewport=VIEWPORT,
                device_scale_factor=style.zoom,
                color_scheme="dark" if style.dark else "light",
                service_workers="block",
            )
            context.route("**/*", self._site.handle)
            page = context.new_page()
            page.goto(self._site.url(f"{style.engine}.html"))
            page.wait_for_function(
                "() => window.typesetReady === true", timeout=PAGE_LOAD_TIMEOUT_S * 1000
            )
            self._pages[style] = (context, page)
        return self._pages[style][1]

    def _discard(self, style: WebStyle) -> None:
        """Throw away the page of `style` (it may be stuck); the next batch loads a fresh one."""
        from playwright.sync_api import Error

        context, _ = self._pages.pop(style, (None, None))
        if context is not None:
            with contextlib.suppress(Error):
                context.close()


def _refusal(formula: str) -> str | None:
    """Why a formula is not even sent to the browser, if it is not."""
    if not formula.strip():
        return "empty formula"
    if len(formula) > MAX_CHARS:
        return f"formula longer than {MAX_CHARS} characters"
    return None


def _photograph(
    page: Page, items: list[dict], zoom: float, deadline: float
) -> list[Image.Image | None]:
    """Each typeset item's image (None for a refused or blank one), from a few tall strips."""
    search = [_search_box(item["box"]) if item["box"] else None for item in items]
    images: list[Image.Image | None] = [None] * len(items)
    for strip in _strips([k for k, box in enumerate(search) if box], search, zoom):
        left = min(search[k][0] for k in strip)
        top = min(search[k][1] for k in strip)
        right = max(search[k][2] for k in strip)
        bottom = max(search[k][3] for k in strip)
        png = page.screenshot(
            clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
            full_page=True,
            type="png",
            animations="disabled",
            caret="hide",
            timeout=_ms_left(deadline),
        )
        gray = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        background = page_background(gray)
        for k in strip:
            x0, y0, x1, y1 = search[k]
            box: Box = (
                round((x0 - left) * zoom),
                round((y0 - top) * zoom),
                round((x1 - left) * zoom),
                round((y1 - top) * zoom),
            )
            images[k] = crop_formula(gray, box, background, round(MARGIN_CSS * zoom))
    return images


def _search_box(box: list[float]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the area searched for a formula's ink, in CSS pixels."""
    x, y, width, height = box
    return (
        max(x - SEARCH_CSS, 0),
        max(y - SEARCH_CSS, 0),
        x + width + SEARCH_CSS,
        y + height + SEARCH_CSS,
    )


def _strips(order: list[int], boxes: list, zoom: float) -> list[list[int]]:
    """The items (top to bottom) grouped into strips of at most `STRIP_HEIGHT` device pixels."""
    strips: list[list[int]] = []
    for k in order:
        if strips and (boxes[k][3] - boxes[strips[-1][0]][1]) * zoom <= STRIP_HEIGHT:
            strips[-1].append(k)
        else:
            strips.append([k])
    return strips


def _ms_left(deadline: float) -> float:
    """Milliseconds to `deadline`, at least one (Playwright reads 0 as no limit)."""
    return max((deadline - time.monotonic()) * 1000, 1.0)
