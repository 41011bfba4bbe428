"""Shared fixtures: the shared data folder, skips for missing external tools, one torch thread,
and the model and images the prediction, API, server and browser tests share."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from im2markup.paths import shared_data_dir

if TYPE_CHECKING:
    from im2markup.serving.predictor import Predictor

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


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Code under test may set its own thread count (`--threads`); the next test gets one again."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> Path:
    """The bundled model, else a small random one with the vocabulary of real formulas."""
    from serving_fixtures import bundled_model_dir, save_random_model

    bundled = bundled_model_dir()
    if bundled is not None:
        return bundled
    formulas = im2latex_dir / "formulas" / "val.formulas.norm.txt"
    return save_random_model(tmp_path_factory.mktemp("model"), formulas)


@pytest.fixture(scope="module")
def predictor(model_dir: Path) -> Predictor:
    """The model loaded through the package's public entry point."""
    import im2markup

    return im2markup.load_model(model_dir)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> list[Path]:
    """Shared test images `<id>.png` for the ids `serving_fixtures.TEST_IMAGE_IDS`, in order."""
    from serving_fixtures import TEST_IMAGE_IDS, extract_test_images

    return extract_test_images(im2latex_dir, TEST_IMAGE_IDS, tmp_path_factory.mktemp("images"))
