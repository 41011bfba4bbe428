"""Writers of the packed splits: test, test-shared, val and train (`build` says what each holds).

Each writer renders through the build's cached renderer, applies its split's filters and
returns the counts the manifest reports (samples per source/style, drops per reason).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.corpus.cleaning import Exclusions, PoolEntry, nospace_form
from im2markup.data.corpus.corpora import Im2latexSplit, tar_images
from im2markup.data.corpus.pseudo_label_files import LabelledImage, is_pseudo_label_source
from im2markup.data.render import RenderResult
from im2markup.data.shards import ShardWriter
from im2markup.data.web_styles import WEB_STYLES

MAX_TOKENS = 150
MAX_SIZE = (500, 160)
"""Largest processed image (width, height) the paper trained on."""
# Styles that draw every spacing command, so their images carry the paper form's label; the
# shared style's images are labelled with the space-stripped form, as the shared images are.
SPACED_STYLES = frozenset({"paper", *WEB_STYLES})

Renders = Callable[[Sequence[str], str], Iterator[RenderResult]]
"""(formulas, style) → one result per formula, in order."""


class SplitWriter:
    """A split being written, with the counts the manifest reports."""

    def __init__(self, directory: Path):
        self.writer = ShardWriter(directory, overwrite=True)
        self.counts: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()

    def add(
        self, image: Image.Image | bytes, label: str, source: str, style: str, alt: str, ref: str
    ) -> None:
        self.writer.add(image, label, source, style, alt_label=alt, ref=ref)
        self.counts[f"{source}/{style}"] += 1

    def close(self) -> dict[str, object]:
        self.writer.close()
        return {
            "samples": sum(self.counts.values()),
            "by_source_style": dict(sorted(self.counts.items())),
            "dropped": dict(sorted(self.dropped.items())),
        }


def training_filter(result: RenderResult, label: str) -> str | None:
    """Why a render is kept out of training (the paper's filters), if it is."""
    if result.image is None:
        return "does not render"
    if len(label.split()) > MAX_TOKENS:
        return f"more than {MAX_TOKENS} tokens"
    if result.image.width > MAX_SIZE[0] or result.image.height > MAX_SIZE[1]:
        return "image larger than 500x160"
    return None


def write_test(test: Im2latexSplit, count: int, renders: Renders, out: Path) -> dict[str, object]:
    """`test` (paper-style renders, nothing filtered) and `test-shared` (the shared images)."""
    split, failed = SplitWriter(out / "test"), []
    for result in renders(test.norm[:count], "paper"):
        k = result.index
        if result.image is None:
            failed.append(f"{k}\t{result.error}\n")
            split.dropped["does not render"] += 1
        else:
            split.add(
                result.image, test.norm[k], "im2latex-test", "paper", test.nospace[k], f"test:{k}"
            )
    (out / "test-failed.tsv").write_text("".join(failed), encoding="utf-8")
    report = {"test": split.close()}
    shared = SplitWriter(out / "test-shared")
    for k, png in tar_images(test.images, set(range(count))):
        shared.add(png, test.nospace[k], "im2latex-test", "shared-image", test.norm[k], f"test:{k}")
    report["test-shared"] = shared.close()
    return report


def write_val(
    val: Im2latexSplit, held: list[int], renders: Renders, out: Path
) -> dict[str, object]:
    """The held-out validation formulas, as paper-style renders and as their shared images."""
    split = SplitWriter(out / "val")
    for result in renders([val.norm[k] for k in held], "paper"):
        k = held[result.index]
        if result.image is None:
            split.dropped["does not render"] += 1
        else:
            split.add(
                result.image, val.norm[k], "im2latex-val", "paper", val.nospace[k], f"val:{k}"
            )
    for k, png in tar_images(val.images, set(held)):
        split.add(png, val.nospace[k], "im2latex-val", "shared-image", val.norm[k], f"val:{k}")
    return split.close()


def write_train(
    pool: Sequence[PoolEntry],
    styles: dict[str, float],
    seed: int,
    shared_images: tuple[Im2latexSplit, set[int], Exclusions],
    renders: Renders,
    out: Path,
    extra_images: Iterable[LabelledImage] = (),
    pseudo_styles: Collection[str] = ("shared",),
) -> tuple[dict[str, object], list[str]]:
    """Every pool formula in every style (a seeded `fraction` of it), then the shared images.

    `shared_images` is the validation split, the lines whose images to add, and the exclusions
    those must pass; `extra_images` are more real images (e.g. verified pseudo-labels), already
    checked. Pool formulas from pseudo-label files render only in `pseudo_styles`: they were
    verified against space-stripped images, so their spacing is unchecked and would teach the
    paper style to drop it. Returns the counts and the labels written (for the vocabulary).
    """
    split, labels = SplitWriter(out / "train"), []
    for number, (style, fraction) in enumerate(styles.items()):
        rng = np.random.default_rng((seed, number))
        chosen = [e for e in pool if fraction >= 1.0 or rng.random() < fraction]
        if style not in pseudo_styles:
            chosen = [e for e in chosen if not is_pseudo_label_source(e.source)]
        for result in renders([e.formula for e in chosen], style):
            entry = chosen[result.index]
            label = entry.formula if style in SPACED_STYLES else nospace_form(entry.formula)
            reason = training_filter(result, label)
            if reason is not None:
                split.dropped[f"{style}: {reason}"] += 1
                continue
            split.add(result.image, label, entry.source, style, entry.formula, entry.ref)
            labels.append(label)
    val, lines, exclusions = shared_images
    for k, png in tar_images(val.images, lines):
        if exclusions.match(val.norm[k]) is not None:
            split.dropped["shared-image: equals test or held-out"] += 1
        elif len(val.nospace[k].split()) > MAX_TOKENS:
            split.dropped[f"shared-image: more than {MAX_TOKENS} tokens"] += 1
        else:
            source = "im2latex-val-images"
            split.add(png, val.nospace[k], source, "shared-image", val.norm[k], f"val:{k}")
            labels.append(val.nospace[k])
    for item in extra_images:
        if item.dropped is not None:
            split.dropped[f"shared-image: {item.dropped}"] += 1
        else:
            split.add(item.png, item.label, item.source, "shared-image", item.alt, item.ref)
            labels.append(item.label)
    return split.close(), labels
