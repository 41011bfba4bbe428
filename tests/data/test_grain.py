import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.images.grain import GRAINY_FRACTION, grain_fraction, remove_grain
from im2markup.data.images.user_images import read_page, read_user_image
from im2markup.evaluation.transforms import TRANSFORMS
from shard_fixtures import first_val_samples

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def pngs(im2latex_dir: Path) -> list[bytes]:
    return [png for png, _, _ in first_val_samples(im2latex_dir, 12)]


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


@pytest.mark.parametrize("condition", ["blur σ1", "JPEG q30", "colour", "light on dark"])
def test_clean_and_otherwise_damaged_images_are_left_alone(pngs, condition) -> None:
    for k, png in enumerate(pngs):
        image = TRANSFORMS[condition](Image.open(io.BytesIO(png)), np.random.default_rng(k))
        gray = read_user_image(image)
        assert grain_fraction(gray) < GRAINY_FRACTION
        assert remove_grain(gray) is gray


def test_grainy_images_get_white_paper_and_keep_their_ink(pngs) -> None:
    for k, png in enumerate(pngs):
        clean = _gray(Image.open(io.BytesIO(png)))
        noisy = _gray(TRANSFORMS["noise σ20"](Image.fromarray(clean), np.random.default_rng(k)))
        assert grain_fraction(noisy) >= GRAINY_FRACTION
        cleaned = remove_grain(noisy)
        paper, ink = clean == 255, clean < 64
        assert (cleaned[paper] == 255).mean() > 0.99 > (noisy[paper] == 255).mean()
        assert (cleaned[ink] < 128).mean() > 0.95


def test_a_page_without_paper_pixels_is_not_grainy() -> None:
    assert grain_fraction(np.zeros((20, 30), dtype=np.uint8)) == 0.0


def test_the_reader_takes_grain_off_unless_told_not_to(pngs) -> None:
    for k, png in enumerate(pngs[:4]):
        noisy = TRANSFORMS["noise σ20"](Image.open(io.BytesIO(png)), np.random.default_rng(k))
        page = read_page(noisy)
        assert grain_fraction(page) >= GRAINY_FRACTION
        kept = read_user_image(noisy, clear_grain=False)
        cleared = read_user_image(noisy)
        assert (cleared == 255).mean() > (kept == 255).mean() + 0.1
