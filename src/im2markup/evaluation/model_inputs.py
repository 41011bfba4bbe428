"""The input images a model reads when it is evaluated on a split, and the gold they answer to.

The built dataset (`im2markup data build`) holds the exact images: `test` (paper-style renders
of the normalized test formulas; the formulas that do not render are listed in
`test-failed.tsv` and have no input), `test-shared` (the shared test images) and `val` (each
held-out validation formula as a paper-style render and as its shared image). An evaluation
split therefore comes in forms, each scored against the gold its images show:

* `test` — paper renders, normalized gold, paper style;
* `test-shared` — shared images, space-stripped (`nospace`) gold, shared style;
* `val` (form `paper`) — paper renders, normalized gold; `val-shared` (form `shared`) — the
  shared validation images, `nospace` gold, shared style;
* `crohme2014` — the CROHME bitmaps of the split itself.

Items are matched to dataset samples by their `ref` (`test:k`, `val:k`). Without a built
dataset the images are made as the build makes them (paper renders of the gold, the shared
images from their tar, the CROHME bitmaps) and packed into `<folder>/inputs`, so decoding
always reads a packed split. An item without an image stays in the split with the reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from PIL import Image

from im2markup.data.corpus.corpora import im2latex_split, tar_images
from im2markup.data.corpus.manifest import MANIFEST_NAME, load_manifest
from im2markup.data.shards import ShardReader, ShardWriter
from im2markup.evaluation.scoring import RenderOptions
from im2markup.evaluation.splits import Split, load_split
from im2markup.paths import cache_dir

FORMS: dict[str, tuple[str, ...]] = {
    "test": ("paper",),
    "test-shared": ("shared",),
    "val": ("paper", "shared"),
    "crohme2014": ("handwritten",),
}
"""The forms each split is evaluated in (`val` in both, as two result rows)."""

_DATASET_SPLIT = {"test": "test", "test-shared": "test-shared", "val": "val"}
_STYLE_NAMES = {"paper": ("paper",), "shared": ("shared-image",), "handwritten": ()}
INPUTS_DIR = "inputs"


@dataclass
class SplitInputs:
    """A split's gold side and its input images: item k is sample `samples[k]` of `reader`,
    or has no image (`samples[k]` None, `missing[k]` says why).

    `source` says where the images come from; `manifest_hash` names the built dataset
    (None when the split's own loader made them).
    """

    split: Split
    reader: ShardReader | None
    samples: list[int | None]
    missing: dict[int, str]
    source: str
    manifest_hash: str | None

    def image(self, k: int) -> Image.Image | None:
        """Item k's input image (for the report), None when it has none."""
        sample = self.samples[k]
        if self.reader is None or sample is None:
            return None
        with Image.open(io.BytesIO(self.reader.png(sample))) as image:
            return image.convert("L")


def gold_split(name: str, form: str, dataset_dir: Path | None = None) -> Split:
    """The gold side of `name` in `form` (see the module docstring); `val` is what the dataset
    at `dataset_dir` holds out (`splits.load_split`)."""
    if name not in FORMS:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(FORMS)}")
    if form not in FORMS[name]:
        raise ValueError(f"split {name} has no form {form!r}; its forms: {', '.join(FORMS[name])}")
    if name == "val" and form == "shared":
        val = load_split("val", dataset_dir)
        nospace = im2latex_split("val").nospace
        golds = [nospace[_line(item)] for item in val.names]
        return Split("val-shared", golds, val.names, "shared", val.input_image)
    return load_split(name, dataset_dir)


def split_inputs(
    split: Split, name: str, form: str, dataset_dir: Path, work_dir: Path, render: RenderOptions
) -> SplitInputs:
    """The inputs of `split` from the built dataset at `dataset_dir` when it holds this split,
    else made by the split's loader and packed into `work_dir/inputs`."""
    packed = _DATASET_SPLIT.get(name)
    if packed is not None and (dataset_dir / packed).is_dir():
        inputs = from_dataset(split, name, form, dataset_dir)
    else:
        inputs = from_loader(split, name, form, work_dir / INPUTS_DIR, render)
    inputs.split = replace(inputs.split, input_image=inputs.image)
    return inputs


def from_dataset(split: Split, name: str, form: str, dataset_dir: Path) -> SplitInputs:
    """Match the items of `split` to the samples of the dataset's split by reference.

    A sample whose label is not the item's gold (token for token: the shared files keep
    stray spaces at the ends of some lines) means the dataset was built from other formulas:
    that is an error, not a miss.
    """
    manifest = load_manifest(dataset_dir) if (dataset_dir / MANIFEST_NAME).is_file() else {}
    reader = ShardReader(dataset_dir / _DATASET_SPLIT[name])
    wanted = {reader.style_names.index(s) for s in _STYLE_NAMES[form] if s in reader.style_names}
    by_ref = {
        ref: i
        for i, (ref, style) in enumerate(zip(reader.labels("ref"), reader.styles, strict=True))
        if int(style) in wanted
    }
    prefix = "test" if name.startswith("test") else "val"
    failed = _failed_renders(dataset_dir / "test-failed.tsv") if name == "test" else {}
    samples: list[int | None] = []
    missing: dict[int, str] = {}
    for k, item in enumerate(split.names):
        line = _line(item)
        sample = by_ref.get(f"{prefix}:{line}")
        samples.append(sample)
        if sample is None:
            why = failed.get(line)
            missing[k] = (
                f"does not render in the paper template: {why}"
                if why
                else (f"no {form} image in {reader.directory}")
            )
        elif reader.label(sample).split() != split.golds[k].split():
            raise ValueError(
                f"{reader.directory}: sample {sample} ({prefix}:{line}) is labelled with another "
                f"formula than the {split.name} gold; rebuild the dataset"
            )
    manifest_hash = manifest.get("manifest_hash")
    return SplitInputs(split, reader, samples, missing, str(reader.directory), manifest_hash)


def from_loader(
    split: Split, name: str, form: str, directory: Path, render: RenderOptions
) -> SplitInputs:
    """Make the images as the build does and pack them into `directory` (replaced)."""
    samples: list[int | None] = [None] * len(split)
    missing: dict[int, str] = {}
    with ShardWriter(directory, overwrite=True) as writer:
        for k, image, error in _loader_images(split, name, form, render):
            if image is None:
                missing[k] = error
            else:
                samples[k] = writer.add(image, split.golds[k], name, form, ref=split.names[k])
    source = "rendered in the paper template" if form == "paper" else f"{split.name} loader"
    return SplitInputs(split, ShardReader(directory), samples, missing, source, None)


def _loader_images(
    split: Split, name: str, form: str, render: RenderOptions
) -> Iterator[tuple[int, Image.Image | bytes | None, str]]:
    """(item, image or PNG bytes or None, why not) for every item of `split`."""
    if form == "paper":
        from im2markup.data.formula_images import render_formulas

        results = render_formulas(
            split.golds, "paper", workers=render.workers, cache_dir=cache_dir() / "renders"
        )
        for k, result in enumerate(results):
            yield k, result.image, f"does not render in the paper template: {result.error}"
    elif form == "shared":
        lines = {_line(item): k for k, item in enumerate(split.names)}
        found = set()
        tar = im2latex_split("test" if name.startswith("test") else "val").images
        for line, png in tar_images(tar, set(lines)):
            found.add(lines[line])
            yield lines[line], png, ""
        for k in sorted(set(range(len(split))) - found):
            yield k, None, f"{split.names[k]} is not in {tar}"
    else:
        for k in range(len(split)):
            yield k, split.input_image(k), "the split has no image for it"


def _failed_renders(path: Path) -> dict[int, str]:
    """`test-failed.tsv`: line number → why it did not render."""
    if not path.is_file():
        return {}
    failed = {}
    for row in path.read_text(encoding="utf-8").splitlines():
        line, _, error = row.partition("\t")
        if line.strip().isdigit():
            failed[int(line)] = error.strip() or "unknown error"
    return failed


def _line(item: str) -> int:
    """The formula line an item name stands for (`123.png` → 123)."""
    stem = PurePath(item).stem
    if not stem.isdigit():
        raise ValueError(f"item {item!r} is not named after a formula line")
    return int(stem)
