"""Where the project finds its inputs and puts what it generates.

Every location can be overridden with an environment variable so that scripts, tests
and CI can point the code elsewhere without editing it. The experiment configs and the
bundled models are package data: an installed wheel carries them as a checkout does.
"""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]


def shared_data_dir() -> Path:
    """The read-only shared data (`IM2MARKUP_SHARED_DATA`, else `../shared/data`)."""
    env = os.environ.get("IM2MARKUP_SHARED_DATA")
    if env:
        return Path(env)
    for base in (REPO_ROOT, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """Root of generated data, renders and runs (`IM2MARKUP_CACHE`, else `~/.cache/im2markup`).

    It lives outside the work tree so that built datasets and training runs survive a fresh
    checkout.
    """
    env = os.environ.get("IM2MARKUP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "im2markup"


def data_dir() -> Path:
    """Built datasets (`IM2MARKUP_DATA`, else `<cache>/data`)."""
    env = os.environ.get("IM2MARKUP_DATA")
    return Path(env) if env else cache_dir() / "data"


def runs_dir() -> Path:
    """Training runs (`IM2MARKUP_RUNS`, else `<cache>/runs`)."""
    env = os.environ.get("IM2MARKUP_RUNS")
    return Path(env) if env else cache_dir() / "runs"


def web_assets_dir() -> Path:
    """The math engines the web-typeset renders use, installed from npm
    (`IM2MARKUP_WEB_ASSETS`, else `<cache>/web-typeset`)."""
    env = os.environ.get("IM2MARKUP_WEB_ASSETS")
    return Path(env) if env else cache_dir() / "web-typeset"


def models_dir() -> Path:
    """The bundled model directories (`IM2MARKUP_MODELS`, else the package's
    `bundled_models`)."""
    env = os.environ.get("IM2MARKUP_MODELS")
    return Path(env) if env else _package_folder("bundled_models")


def configs_dir() -> Path:
    """The experiment configs `im2markup train` finds by name (`IM2MARKUP_CONFIGS`, else the
    package's `configs`)."""
    env = os.environ.get("IM2MARKUP_CONFIGS")
    return Path(env) if env else _package_folder("configs")


def _package_folder(name: str) -> Path:
    """A folder of package data, on disk: the weights are read from files, so a package
    imported from a zip archive needs the environment override."""
    folder = resources.files("im2markup") / name
    if not isinstance(folder, Path):
        raise FileNotFoundError(f"package data {name!r} is not a folder on disk ({folder})")
    return folder


def git_commit() -> str | None:
    """The commit of the checkout the code runs from, when it is one."""
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None
