"""A render cache on disk: one PNG per rendered formula, one text file per refused one.

The key hashes everything that changes the pixels (the template text, the rasterization
options, the formula as TeX sees it), so editing a style invalidates its entries by itself
and re-running a dataset build only renders formulas it has not seen. Entries are written to
a temporary name and renamed, so parallel builds never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from PIL import Image

# Bump when the renderer's output changes for the same key. Version 2: formulas are held to
# the allow-list of `latex.allow_list`; before it, a formula the word list let through could
# change how the next formula of its batch rendered, and that image was cached under the
# next formula's key, so version 1 entries are not trusted.
CACHE_VERSION = 2


class RenderCache:
    """Rendered images and deterministic failures, keyed by `key(...)`."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def key(settings: dict[str, object], formula: str) -> str:
        """A hex digest of the render settings and the formula."""
        payload = json.dumps([CACHE_VERSION, settings, formula], sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def get(self, key: str) -> Image.Image | str | None:
        """The cached image, the cached failure reason, or None when nothing is cached."""
        png, err = self._path(key, ".png"), self._path(key, ".err")
        try:
            with Image.open(png) as image:
                return image.convert("L")
        except FileNotFoundError:
            pass
        except OSError:
            return None
        try:
            return err.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def put_image(self, key: str, image: Image.Image) -> None:
        self._write(key, ".png", lambda f: image.save(f, format="PNG"))

    def put_failure(self, key: str, reason: str) -> None:
        self._write(key, ".err", lambda f: f.write(reason.encode("utf-8")))

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def _write(self, key: str, suffix: str, write) -> None:
        path = self._path(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
