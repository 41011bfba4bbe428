"""`im2markup data build-handwritten --ink`: the real CROHME handwriting as a packed dataset.

`<name>/ink` (`train/`, `val/`, `vocab.txt`, `manifest.json`), read with
`data.name = "<name>/ink"`:

* `train` — the CROHME 2014 training inks of every writer not held out, each drawn
  `variants` times: once as it was written (`InkStyle`, like the test bitmaps) and
  `variants - 1` times through `InkAugment`, `photo_fraction` of those photographed on paper
  (`photo`: uneven light, rules or squares, pen or pencil, camera blur, noise, JPEG) and read
  back through the user-image path;
* `val` — every expression of a seeded set of held-out *writers* (about `val_fraction` of the
  expressions), drawn once as written: model selection on people the model never saw.

Labels are the CROHME training captions (`train_caption.txt`, matched by id) in normalized
form. An expression whose caption equals a CROHME 2014 or IM2LATEX-100K test formula (exactly
or nearly, `cleaning.Exclusions`) is left out of both splits, and the written labels are
checked against both test sets again (`test_labels_found`, must be 0). Every drawing has its
own generator, `default_rng([seed, index, variant])`, so the build is the same whatever the
number of workers.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from im2markup.data.corpus.cleaning import Exclusions
from im2markup.data.corpus.crohme_inks import LabelledInk, ink_test_formulas, writer_split
from im2markup.data.corpus.handwriting_options import HandwritingBuildOptions
from im2markup.data.corpus.manifest import file_digest, write_manifest
from im2markup.data.corpus.split_writers import MAX_TOKENS, SplitWriter
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS
from im2markup.data.handwriting.ink_render import InkAugment, InkStyle, render_expression
from im2markup.data.handwriting.inkml import TRAIN_INKML, InkExpression
from im2markup.data.handwriting.photo import PhotoOptions, photograph, random_options
from im2markup.data.images.preprocess import process_rendered
from im2markup.data.images.user_images import read_user_image
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import Vocab
from im2markup.paths import shared_data_dir

SOURCE = "crohme-ink"
MAX_INK_SIZE = (800, 240)
"""Largest processed drawing (width, height) kept: handwriting is written larger and looser
than type, so the printed training filter (500 × 160) would drop long expressions."""
STYLE, AUGMENTED_STYLE, PHOTO_STYLE = "ink", "ink-augmented", "ink-photo"


@dataclass
class InkOptions(HandwritingBuildOptions):
    """Everything an ink build depends on besides the input files: `variants` drawings of
    each training ink (the first as written)."""

    variants: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variants < 1:
            raise ValueError("variants must be at least 1")

    @property
    def directory(self) -> Path:
        return self.folder("ink")


def read_vocab(path: Path | None) -> Vocab:
    """The vocabulary of a `vocab.txt` or of a model directory (its `config.json`)."""
    if path is None:
        raise FileNotFoundError("no vocabulary given (a vocab.txt or a model directory)")
    if path.is_dir():
        config = path / "config.json"
        try:
            tokens = json.loads(config.read_text(encoding="utf-8"))["vocab"]
        except (OSError, ValueError, KeyError) as error:
            raise FileNotFoundError(f"{config}: no readable vocabulary ({error})") from None
        return Vocab(tokens)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file {path} is missing")
    return Vocab.load(path)


def draw_for_training(job: tuple[InkExpression, int, int, int, float]) -> tuple[bytes, bool] | str:
    """One drawing, processed like every training image, and whether it is a photo; an error
    message if it fails.

    Variant 0 is the ink as written; the others are distorted (`InkAugment`), and
    `photo_fraction` of those photographed on paper (`photo`) and read back the way a user's
    photo is (`user_images.read_user_image(sheet=True)`), at the drawing's known scale.
    """
    ink, seed, index, variant, photo_fraction = job
    rng = np.random.default_rng([seed, index, variant])
    augment = InkAugment() if variant > 0 else None
    try:
        image = render_expression(ink, InkStyle(), augment, rng)
        photo = variant > 0 and rng.random() < photo_fraction
        if photo:
            shot = photograph(image, rng, random_options(rng, InkStyle().symbol_height))
            image = Image.fromarray(read_user_image(shot, sheet=True))
    except ValueError as error:
        return str(error)
    processed = process_rendered(image)
    if processed.width > MAX_INK_SIZE[0] or processed.height > MAX_INK_SIZE[1]:
        return "image larger than {}x{}".format(*MAX_INK_SIZE)
    return processed.tobytes() + processed.width.to_bytes(4, "little"), photo


def _drawings(
    items: Sequence[LabelledInk], variants: int, options: InkOptions, desc: str
) -> Iterator[tuple[int, int, tuple[Image.Image, bool] | str]]:
    """`(item, variant, (image, is photo) or reason)` for every drawing, in order, on every
    worker."""
    jobs = [
        (item.ink, options.seed, k, v, options.photo_fraction)
        for v in range(variants)
        for k, item in enumerate(items)
    ]
    with ProcessPoolExecutor(max_workers=options.workers) as pool:
        results = pool.map(draw_for_training, jobs, chunksize=64)
        bar = tqdm(results, total=len(jobs), desc=desc, disable=not options.progress)
        for (_, _, k, v, _), result in zip(jobs, bar, strict=True):
            if isinstance(result, str):
                yield k, v, result
                continue
            data, photo = result
            width = int.from_bytes(data[-4:], "little")
            pixels = np.frombuffer(data[:-4], dtype=np.uint8).reshape(-1, width)
            yield k, v, (Image.fromarray(pixels), photo)


def write_drawings(
    items: Sequence[LabelledInk], variants: int, options: InkOptions, out: Path, desc: str
) -> dict[str, object]:
    split = SplitWriter(out)
    for k, variant, drawn in _drawings(items, variants, options, desc):
        item = items[k]
        if isinstance(drawn, str):
            split.dropped[drawn] += 1
            continue
        if len(item.label.split()) > MAX_TOKENS:
            split.dropped[f"more than {MAX_TOKENS} tokens"] += 1
            continue
        image, photo = drawn
        style = PHOTO_STYLE if photo else STYLE if variant == 0 else AUGMENTED_STYLE
        ref = f"crohme-ink:{item.ink.id}#{variant}"
        split.add(image, item.label, SOURCE, style, item.tokens, ref)
    return split.close()


def build_ink(options: InkOptions) -> dict[str, object]:
    """Build `<directory>` from the shared CROHME inks; returns its manifest."""
    started = time.time()
    root = options.shared if options.shared is not None else shared_data_dir()
    test = Exclusions(ink_test_formulas(root))
    split = writer_split(root, options.val_fraction, options.seed, options.limit)
    train, val = split.train, split.val
    vocab = read_vocab(options.vocab)
    unknown = sorted({t for item in train + val for t in item.label.split()} - set(vocab.tokens))
    if unknown:
        raise ValueError(f"the vocabulary lacks tokens of the captions: {' '.join(unknown)}")
    out = options.directory
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.txt")
    splits = {
        "train": write_drawings(train, options.variants, options, out / "train", "ink train"),
        "val": write_drawings(val, 1, options, out / "val", "ink val"),
    }
    names = [TRAIN_INKML, TRAIN_CAPTIONS, TEST_CAPTIONS]
    inputs = {name: file_digest(root / name) for name in names}
    inputs["vocab"] = hashlib.sha256("\n".join(vocab.tokens).encode()).hexdigest()
    train_keys = {item.label.replace(" ", "") for item in train}
    check = {
        s: sum(test.match(label) is not None for label in ShardReader(out / s).labels())
        for s in ("train", "val")
    }
    return write_manifest(
        out,
        command=sys.argv,
        options=options,
        inputs=inputs,
        splits=splits,
        yields={},
        extra={
            "style": asdict(InkStyle()),
            "augment": asdict(InkAugment()),
            "photo": asdict(PhotoOptions()),
            "seeds": "default_rng([seed, index, variant]) per drawing",
            "expressions": {"train": len(train), "val": len(val), "removed": dict(split.removed)},
            "writers": {
                "train": len({item.ink.writer for item in train}),
                "val": sorted(split.held),
            },
            "val_formulas_not_in_train": sum(
                item.label.replace(" ", "") not in train_keys for item in val
            ),
            "test_labels_found": check,
        },
        seconds=time.time() - started,
    )
