"""What `--split NAME` means: gold formulas, their image names, the render style, input images.

* `test` — the 9,443 IM2LATEX-100K test formulas (normalized), gold rendered in the paper's
  template; the inputs are those renders (which is how `im2markup data build` makes its `test`
  split's images).
* `test-shared` — the same formulas in their space-stripped form, which is what the shared test
  images show, rendered in the `shared` template; inputs are the shared images.
* `val` — the validation formulas a built dataset holds out, as its build recorded them beside
  its manifest (before any build, the 1,000 a default build would hold out), normalized,
  rendered in the paper's template; items are named after their line in the validation file
  (`k.png`, as the shared validation images).
* `crohme2014` — the 986 CROHME 2014 test captions in the normalized token form, with the test
  bitmaps made model-ready (inverted, cropped, padded, halved); gold rendered in the paper's
  template. It keeps the CROHME captions too, so scoring adds CROHME's expression rates and
  decoding keeps to the CROHME symbols.
* a formula file (`--gold`) — one gold formula per line, item k named `k.png`; inputs from an
  optional images folder.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from im2markup.paths import shared_data_dir

SPLITS = ("test", "test-shared", "val", "crohme2014")
MAX_IMAGE_BYTES = 20 << 20

InputImage = Callable[[int], Image.Image | None]


@dataclass
class Split:
    """The gold side of an evaluation; `input_image(k)` is None when item k has no input image.

    `crohme_golds` (the CROHME splits only) are the gold captions in CROHME's own tokens.
    """

    name: str
    golds: list[str]
    names: list[str]
    style: str
    input_image: InputImage
    crohme_golds: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.golds)

    def head(self, n: int | None) -> Split:
        """The first `n` items (all of them for None)."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"a split of {n} items is empty")
        crohme = None if self.crohme_golds is None else self.crohme_golds[:n]
        return Split(
            self.name, self.golds[:n], self.names[:n], self.style, self.input_image, crohme
        )


def load_split(name: str, dataset_dir: Path | None = None) -> Split:
    """The named split (one of `SPLITS`); `val` holds the lines the dataset at `dataset_dir`
    (default: the default build's) holds out."""
    loaders = {
        "test": _test,
        "test-shared": _test_shared,
        "val": lambda: _val(dataset_dir),
        "crohme2014": _crohme2014,
    }
    if name not in loaders:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
    return loaders[name]()


def split_from_file(gold_path: Path, images_dir: Path | None = None, style: str = "paper") -> Split:
    """A split made of a formula file (line k = item `k.png`) and an optional images folder."""
    golds = _read_lines(gold_path)
    names = [f"{k}.png" for k in range(len(golds))]
    inputs = _folder_images(images_dir) if images_dir is not None else _no_images
    return Split(gold_path.stem, golds, names, style, inputs)


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


def _formulas(kind: str) -> list[str]:
    return _read_lines(shared_data_dir() / "im2latex100k" / "formulas" / kind)


def _test() -> Split:
    golds = _formulas("test.formulas.norm.txt")
    names = [f"{k}.png" for k in range(len(golds))]
    return Split("test", golds, names, "paper", _no_images)


def _test_shared() -> Split:
    golds = _formulas("test.formulas.nospace.txt")
    names = [f"{k}.png" for k in range(len(golds))]
    archive = _TarImages(shared_data_dir() / "im2latex100k" / "images_test.tar")
    return Split("test-shared", golds, names, "shared", lambda k: archive.get(names[k]))


def _val(dataset_dir: Path | None) -> Split:
    """The validation formulas the dataset holds out of training (`build.heldout_lines`)."""
    from im2markup.data.corpus.build import heldout_lines

    formulas = _formulas("val.formulas.norm.txt")
    held = heldout_lines(dataset_dir)
    golds = [formulas[k] for k in held]
    return Split("val", golds, [f"{k}.png" for k in held], "paper", _no_images)


def _crohme2014() -> Split:
    from im2markup.data.handwriting.crohme import to_normalized
    from im2markup.data.handwriting.crohme_reader import load_crohme2014_test

    samples = load_crohme2014_test(shared_data_dir())
    names = [f"{sample.id}_0.bmp" for sample in samples]
    golds = [" ".join(to_normalized(sample.tokens)) for sample in samples]
    return Split(
        "crohme2014",
        golds,
        names,
        "paper",
        lambda k: samples[k].image,
        [sample.tokens for sample in samples],
    )


def _no_images(_: int) -> None:
    return None


def _folder_images(directory: Path) -> InputImage:
    root = directory.resolve()

    def load(k: int) -> Image.Image | None:
        path = (root / f"{k}.png").resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        return _decode(path.read_bytes())

    return load


def _decode(data: bytes) -> Image.Image | None:
    """A grayscale image, or None for bytes that are not one (the report then shows none)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


class _TarImages:
    """Images of a tar archive by file name, read into memory on first use."""

    def __init__(self, path: Path):
        self.path = path
        self._members: dict[str, bytes] | None = None

    def get(self, name: str) -> Image.Image | None:
        if self._members is None:
            self._members = {}
            with tarfile.open(self.path) as tar:
                for member in tar:
                    if member.isfile() and member.size <= MAX_IMAGE_BYTES:
                        data = tar.extractfile(member)
                        if data is not None:
                            self._members[Path(member.name).name] = data.read()
        data = self._members.get(name)
        return None if data is None else _decode(data)
