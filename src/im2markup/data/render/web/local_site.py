"""The typesetting page's only source: local files under a made-up origin, nothing else.

Every request the browser makes goes through `LocalSite.handle` (a Playwright route): paths
under the origin are answered from the page folder or the installed engines, anything else is
refused and remembered, so a formula can never make the browser reach the network or read
another file. The origin's `.invalid` name cannot resolve even if a request slipped past.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Route

ORIGIN = "http://web-typeset.invalid"


class LocalSite:
    """Serves `/page/…` from `page_dir` and `/node_modules/…` from `assets/node_modules`."""

    def __init__(self, page_dir: Path, assets: Path):
        self._roots = {
            "page": page_dir.resolve(),
            "node_modules": (assets / "node_modules").resolve(),
        }
        self.refused: list[str] = []

    def url(self, path: str) -> str:
        """The address of a file of the page folder."""
        return f"{ORIGIN}/page/{path}"

    def handle(self, route: Route) -> None:
        """Answer a local file or refuse the request."""
        url = route.request.url
        path = self.local_path(url)
        if path is None:
            self.refused.append(url)
            route.abort("blockedbyclient")
        else:
            route.fulfill(path=path)

    def local_path(self, url: str) -> Path | None:
        """The file `url` names, when it is a file of the site."""
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
            return None
        top, _, rest = unquote(parts.path).lstrip("/").partition("/")
        root = self._roots.get(top)
        if root is None:
            return None
        path = (root / rest).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None
