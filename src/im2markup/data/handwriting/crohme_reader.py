"""Reading the CROHME captions and the CROHME 2014 test bitmaps from the shared data.

The test bitmaps (`off_image_test/<id>_0.bmp` in a tar.gz) are white strokes on black, about
100 px high, with strokes 4 px wide. The models read dark ink on white, so every bitmap is
inverted and then goes through the same crop / pad 8 px / downsample ×2 as a rendered formula
(`preprocess.process_rendered`); the synthetic handwriting is made at the bitmaps' raw scale for
that reason, and both reach the model at the same size.

These images and captions are for evaluation only: never train or select models on them.
"""

from __future__ import annotations

import io
import logging
import re
import tarfile
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageOps

from im2markup.data.images.preprocess import process_rendered
from im2markup.paths import shared_data_dir

log = logging.getLogger(__name__)

TEST_CAPTIONS = "crohme/test_caption.txt"
TRAIN_CAPTIONS = "crohme/train_caption.txt"
TEST_IMAGES = "crohme/crohme2014_test_images.tar.gz"
# A member larger than this is not one of the small bitmaps and is not read.
MAX_MEMBER_BYTES = 16 * 1024 * 1024
_MEMBER = re.compile(r"^off_image_test/(?P<id>[^/]+)_0\.bmp$")


class CrohmeSample(NamedTuple):
    """One test expression: its id, the model-ready image and the gold CROHME tokens."""

    id: str
    image: Image.Image
    tokens: list[str]


def read_captions(path: str | Path) -> list[tuple[str, list[str]]]:
    """`(id, tokens)` for every line `id<TAB>tokens` of a CROHME caption file, in file order.

    A malformed line raises `ValueError` naming the file and line number.
    """
    path = Path(path)
    captions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        sample_id, tab, text = line.partition("\t")
        if not tab or not sample_id.strip() or not text.split():
            raise ValueError(f"{path}:{number}: expected 'id<TAB>tokens', got {line[:80]!r}")
        captions.append((sample_id.strip(), text.split()))
    return captions


def bitmap_to_input(bitmap: Image.Image) -> Image.Image:
    """A CROHME bitmap (light ink on black) → dark ink on white, cropped, padded, downsampled."""
    return process_rendered(ImageOps.invert(bitmap.convert("L")))


def load_crohme2014_test(shared_dir: str | Path | None = None) -> list[CrohmeSample]:
    """The CROHME 2014 test set in caption order, images ready for the model.

    `shared_dir` defaults to `paths.shared_data_dir()`. An expression whose bitmap is missing
    or unreadable is left out with a warning naming it, so one bad file does not stop an
    evaluation; the caller sees the shorter list.
    """
    root = Path(shared_dir) if shared_dir is not None else shared_data_dir()
    captions = read_captions(root / TEST_CAPTIONS)
    wanted = {sample_id for sample_id, _ in captions}
    images: dict[str, Image.Image] = {}
    with tarfile.open(root / TEST_IMAGES, mode="r:gz") as archive:
        for member in archive:
            match = _MEMBER.match(member.name)
            if not match or match["id"] not in wanted:
                continue
            try:
                images[match["id"]] = _read_member(archive, member)
            except (OSError, ValueError) as error:
                log.warning("CROHME test image %s left out: %s", member.name, error)
    samples = []
    for sample_id, tokens in captions:
        if sample_id in images:
            samples.append(CrohmeSample(sample_id, images[sample_id], tokens))
        else:
            log.warning("CROHME test expression %s left out: no readable bitmap", sample_id)
    return samples


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Image.Image:
    """Decode one bitmap of the archive into a model-ready image."""
    if not member.isfile():
        raise ValueError("not a regular file")
    if member.size > MAX_MEMBER_BYTES:
        raise ValueError(f"{member.size} bytes is too large for a formula bitmap")
    handle = archive.extractfile(member)
    if handle is None:
        raise ValueError("cannot be read")
    with Image.open(io.BytesIO(handle.read())) as bitmap:
        bitmap.load()
        return bitmap_to_input(bitmap)
