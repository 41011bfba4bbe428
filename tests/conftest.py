"""Shared fixtures: the shared data folder, skips for missing external tools, one torch thread."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from im2markup.paths import shared_data_dir

SHARED = shared_data_dir()
HAVE_LATEX = shutil.which("pdflatex") is not None and shutil.which("gs") is not None


def pytest_configure(config: pytest.Config) -> None:
    """One PyTorch thread for the whole session: on a busy 2-core machine, two threads that wait
    for each other make the small models of the tests many times slower."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_latex = pytest.mark.skip(reason="pdflatex or gs not installed")
    skip_shared = pytest.mark.skip(reason=f"shared data not found at {SHARED}")
    for item in items:
        if "latex" in item.keywords and not HAVE_LATEX:
            item.add_marker(skip_latex)
        if "shared_data" in item.keywords and not SHARED.is_dir():
            item.add_marker(skip_shared)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared data folder (tests using it carry the `shared_data` marker)."""
    return SHARED


@pytest.fixture(scope="session")
def im2latex_dir(shared_dir: Path) -> Path:
    return shared_dir / "im2latex100k"
