"""The pinned math engines (KaTeX, MathJax) from npm, installed once into the cache.

`package.json` and `package-lock.json` beside this module pin exact versions; `npm ci` installs
them into a folder of `paths.web_assets_dir()` (in the cache) named after the lock file's hash,
so a new pin installs beside the old one and a checkout never carries `node_modules`. The
install happens in a temporary folder renamed into place, so an interrupted or concurrent
install never leaves half a folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from im2markup.paths import web_assets_dir

PACKAGE_DIR = Path(__file__).resolve().parent
PAGE_DIR = PACKAGE_DIR / "page"
_MANIFESTS = ("package.json", "package-lock.json")
# The files the pages load: present only in a complete install.
_REQUIRED = (
    "node_modules/katex/dist/katex.min.js",
    "node_modules/mathjax/es5/tex-svg-full.js",
)
NPM_TIMEOUT_S = 300


class AssetsMissing(RuntimeError):
    """The engines are not installed and could not be (no npm, or npm failed)."""


def assets_dir() -> Path:
    """Where this lock file's packages are (or would be) installed."""
    digest = hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()
    return web_assets_dir() / digest[:16]


def installed() -> bool:
    """Whether the engines are installed for the current lock file."""
    root = assets_dir()
    return all((root / name).is_file() for name in _REQUIRED)


def ensure_assets() -> Path:
    """The install folder, running `npm ci` first when the engines are missing."""
    root = assets_dir()
    if installed():
        return root
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsMissing("npm is not installed: it is needed once to install KaTeX and MathJax")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".install-") as tmp:
        staging = Path(tmp) / "assets"
        staging.mkdir()
        for name in _MANIFESTS:
            shutil.copy(PACKAGE_DIR / name, staging / name)
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            subprocess.run(
                command, cwd=staging, check=True, capture_output=True, text=True,
                timeout=NPM_TIMEOUT_S,
            )  # fmt: skip
        except subprocess.CalledProcessError as error:
            raise AssetsMissing(f"npm ci failed: {error.stderr.strip()[-2000:]}") from error
        except subprocess.TimeoutExpired as error:
            raise AssetsMissing(f"npm ci took over {NPM_TIMEOUT_S} s") from error
        try:
            staging.rename(root)
        except OSError:
            if not installed():  # not another process's finished install either
                raise
    return root
