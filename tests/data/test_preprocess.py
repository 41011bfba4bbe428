"""The paper's preprocessing steps, checked against the shared processed images."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.images.preprocess import (
    CODE_BUCKETS,
    PAPER_BUCKETS,
    choose_bucket,
    crop_to_ink,
    downsample,
    ink_bbox,
    pad,
    pad_to_bucket,
    process_rendered,
)


def shared_images(im2latex_dir: Path, count: int) -> list[Image.Image]:
    """The first `count` validation images of the shared set (in the tar's order)."""
    images = []
    with tarfile.open(im2latex_dir / "images_val.tar") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".png"):
                data = tar.extractfile(member).read()
                images.append(Image.open(io.BytesIO(data)).convert("L"))
                if len(images) == count:
                    break
    return images


@pytest.mark.shared_data
def test_shared_images_sit_top_left_in_the_code_buckets(im2latex_dir: Path) -> None:
    images = shared_images(im2latex_dir, 400)
    assert all(image.size in CODE_BUCKETS for image in images)
    boxes = [ink_bbox(image, white=129) for image in images]
    corners = [box[:2] for box in boxes if box is not None]  # a few shared images are blank
    assert len(corners) > 390
    # 8 px of padding halved: the dark ink starts 4 (sometimes 5) px from the top-left corner.
    assert all(left in (4, 5) and top in (4, 5) for left, top in corners)
    assert sum(corner == (4, 4) for corner in corners) / len(corners) > 0.75


def authors_order(full: Image.Image, buckets: tuple[tuple[int, int], ...]) -> Image.Image:
    """Crop, pad 8, pad into the doubled bucket, then halve: the authors' order of steps."""
    padded = pad(crop_to_ink(full))
    width, height = choose_bucket((padded.width / 2, padded.height / 2), buckets)
    canvas = Image.new("L", (2 * width, 2 * height), 255)
    canvas.paste(padded, (0, 0))
    return canvas.resize((width, height), Image.Resampling.LANCZOS)


@pytest.mark.shared_data
def test_bucketing_last_gives_the_authors_pixels(im2latex_dir: Path) -> None:
    for image in shared_images(im2latex_dir, 12):
        # A full-resolution page: the shared image's ink, doubled, with uneven margins.
        ink = crop_to_ink(image).resize((image.width * 2 - 7, image.height * 2 - 5))
        page = Image.new("L", (ink.width + 40, ink.height + 31), 255)
        page.paste(ink, (13, 9))
        ours = pad_to_bucket(process_rendered(page), CODE_BUCKETS)
        assert np.array_equal(np.asarray(ours), np.asarray(authors_order(page, CODE_BUCKETS)))


def test_choose_bucket_takes_the_first_that_fits_in_list_order() -> None:
    assert choose_bucket((110, 45), CODE_BUCKETS) == (120, 50)
    assert choose_bucket((150, 45), CODE_BUCKETS) == (200, 50)
    assert choose_bucket((130, 30), PAPER_BUCKETS) == (160, 32)
    assert choose_bucket((481, 10), PAPER_BUCKETS) is None


def test_pad_to_bucket_puts_the_image_top_left_on_white() -> None:
    image = Image.new("L", (100, 20), 0)
    out = pad_to_bucket(image)
    assert out.size == (128, 32)
    pixels = np.asarray(out)
    assert (pixels[:20, :100] == 0).all() and (pixels[20:] == 255).all()
    assert (pixels[:, 100:] == 255).all()
    with pytest.raises(ValueError, match="fits no bucket"):
        pad_to_bucket(Image.new("L", (500, 20), 0))


def test_crop_pad_downsample_sizes_and_blank_images() -> None:
    image = Image.new("L", (50, 30), 255)
    image.paste(0, (10, 5, 21, 12))
    assert ink_bbox(image) == (10, 5, 21, 12) == ink_bbox(np.asarray(image))
    cropped = crop_to_ink(image)
    assert cropped.size == (11, 7)
    assert pad(cropped).size == (27, 23)
    assert downsample(pad(cropped)).size == (14, 12)
    assert process_rendered(image).size == (14, 12)
    with pytest.raises(ValueError, match="no ink"):
        crop_to_ink(Image.new("L", (5, 5), 255))
    assert ink_bbox(Image.new("L", (5, 5), 255)) is None
