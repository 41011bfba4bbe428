from pathlib import Path

import numpy as np
import pytest

from im2markup.data.images import augment
from im2markup.data.images.augment import AugmentConfig, Augmenter
from im2markup.data.images.buckets import bucket_for
from shard_fixtures import first_val_samples

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def images(im2latex_dir: Path) -> list[np.ndarray]:
    import io

    from PIL import Image

    return [
        np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        for png, _, _ in first_val_samples(im2latex_dir, 12)
    ]


def ink(image: np.ndarray) -> int:
    return int((image <= augment.INK).sum())


def darkness(image: np.ndarray) -> float:
    return float((255 - image.astype(np.float64)).sum())


def assert_valid(image: np.ndarray) -> None:
    assert image.dtype == np.uint8 and image.ndim == 2
    assert ink(image) > 0
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    assert np.median(border) >= 245


def test_rescale_changes_size_by_the_planned_factor(images) -> None:
    image = images[0]
    for scale in (0.6, 1.5, 2.0):
        out = augment.rescale(image, scale)
        assert out.shape == (round(image.shape[0] * scale), round(image.shape[1] * scale))
        assert_valid(out)
    assert augment.rescale(image, 1.0) is image


def test_stroke_changes_the_amount_of_ink_in_the_stated_direction(images) -> None:
    image = images[1]
    assert darkness(augment.stroke(image, "bold")) > darkness(image)
    assert darkness(augment.stroke(image, "thin")) < darkness(image)
    assert ink(augment.stroke(image, "dilate")) > ink(image)
    eroded = augment.stroke(image, "erode")
    assert darkness(eroded) < darkness(image) and ink(eroded) > 0
    for kind in ("bold", "thin", "dilate", "erode"):
        out = augment.stroke(image, kind)
        assert out.shape == image.shape
        assert_valid(out)
    with pytest.raises(ValueError, match="unknown stroke"):
        augment.stroke(image, "wobbly")


def test_blur_jpeg_and_noise_perturb_pixels_but_keep_the_formula(images) -> None:
    image = images[2]
    rng = np.random.default_rng(0)
    for out in (
        augment.blur(image, 0.8),
        augment.jpeg(image, 30),
        augment.noise(image, 8.0, rng),
    ):
        assert out.shape == image.shape
        assert not np.array_equal(out, image)
        assert np.abs(out.astype(int) - image).mean() < 20
        assert_valid(out)


def test_tilt_rotates_and_shears_then_crops_to_the_ink(images) -> None:
    image = augment.recrop(images[3])
    out = augment.tilt(image, 1.5, 0.0)
    assert out.shape[0] > image.shape[0]
    sheared = augment.tilt(image, 0.0, 0.15)
    assert sheared.shape[1] > image.shape[1]
    for result in (out, sheared):
        assert_valid(result)
        assert (result[: augment.MARGIN] == 255).all() and (
            result[:, : augment.MARGIN] == 255
        ).all()


def test_margins_stay_inside_the_bucket(images) -> None:
    image = images[4]
    bucket = bucket_for(*image.shape)
    rng = np.random.default_rng(1)
    shapes = set()
    for _ in range(20):
        out = augment.add_margins(image, bucket, rng)
        assert out.shape[0] <= bucket[1] and out.shape[1] <= bucket[0]
        assert ink(out) == ink(image)
        shapes.add(out.shape)
    assert len(shapes) > 1


def test_augmenter_is_seeded_and_fits_its_bucket(images) -> None:
    augmenter = Augmenter(
        AugmentConfig(stroke_prob=1, blur_prob=0.5, noise_prob=0.5, jpeg_prob=0.5, tilt_prob=0.5)
    )
    for seed in range(10):
        for image in images:
            scale = 0.6 + 0.14 * seed
            planned = (round(image.shape[0] * scale), round(image.shape[1] * scale))
            bucket = bucket_for(*planned)
            first = augmenter(image, np.random.default_rng(seed), scale, bucket)
            again = augmenter(image, np.random.default_rng(seed), scale, bucket)
            np.testing.assert_array_equal(first, again)
            assert_valid(first)
            assert augment.fits(first, bucket)
