"""Render-verified pseudo-labels: read the unlabeled shared training images with a model and
keep a label only when its render shows exactly what the image shows.

The 76,319 unlabeled images are the paper's training formulas rendered in the shared style,
which our `shared` render style reproduces. An image is decoded greedily; the label is
normalized, rendered in that style and compared with the image by
`metrics.label_verifier.verify`. Images whose greedy label fails are decoded again with beam
search, and the first hypothesis of the beam's n-best list that verifies is kept (`beam-k`).
The result is a pseudo-label file (`data.corpus.pseudo_label_files`), which a dataset build
reads.

A pass over all images takes hours on a CPU, so results are appended chunk by chunk: the
verified labels to the output file, every image handled (verified or not, with the reason) to
`<output>.done`; a new pass skips the images either file names. A line cut short by a kill is
dropped when the files are opened again.
"""

from __future__ import annotations

import heapq
import io
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image
from tqdm import tqdm

from im2markup.data.corpus.corpora import IM2LATEX, tar_images
from im2markup.data.corpus.pseudo_label_files import (
    UNLABELED_TARS,
    PseudoLabel,
    done_images,
    done_path,
    open_for_append,
)
from im2markup.data.formula_images import render_formulas
from im2markup.data.images.buckets import bucket_for, fit_into
from im2markup.data.vocab import Vocab
from im2markup.inference.batches import Search, decode_images
from im2markup.inference.defaults import BATCH_SIZE
from im2markup.inference.loading import load_for_inference
from im2markup.latex.normalizer import normalize
from im2markup.metrics.label_verifier import verify
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import DecodeConfig
from im2markup.paths import cache_dir, data_dir, shared_data_dir

CHUNK = 256
NOT_MATCHING = "render does not match"


@dataclass(frozen=True)
class Options:
    """How a pass decodes (`beam_size` and `max_len` None: those saved with the model),
    renders and reports."""

    beam_size: int | None = None
    batch_size: int = BATCH_SIZE
    max_len: int | None = None
    chunk: int = CHUNK
    workers: int = 2
    render_cache: Path = field(default_factory=lambda: cache_dir() / "renders")
    progress: bool = True


@dataclass
class PassReport:
    """What one pass did: images handled, labels kept (by how), refusals (by reason), time."""

    images: int = 0
    skipped: int = 0
    verified: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    decode_seconds: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        kept = sum(self.verified.values())
        return {
            "images": self.images,
            "skipped_done_before": self.skipped,
            "verified": kept,
            "verified_rate": round(100 * kept / self.images, 2) if self.images else 0.0,
            "verified_by": dict(sorted(self.verified.items())),
            "refused": dict(self.refused.most_common()),
            "images_per_second": round(self.images / self.seconds, 2) if self.seconds else 0.0,
            "decode_seconds": round(self.decode_seconds, 1),
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class _Image:
    """One image to label: its name, its pixels as stored and the padded model input."""

    name: str
    pixels: np.ndarray
    model_input: np.ndarray


def model_input(pixels: np.ndarray) -> np.ndarray:
    """A stored shared image as training feeds it: fitted and white-padded into its bucket."""
    width, height = bucket_for(*pixels.shape)
    fitted = fit_into(pixels, (width, height))
    padded = np.full((height, width), 255, dtype=np.uint8)
    padded[: fitted.shape[0], : fitted.shape[1]] = fitted
    return padded


def unlabeled_images(tars: Sequence[Path]) -> Iterator[tuple[str, bytes]]:
    """(`<tar stem>/<k>.png`, PNG bytes) of every tar, merged in order of k: the unlabeled
    tars deal the images out in turn, so this yields image 0, 1, 2, … of the training list."""
    streams = [_named(tar) for tar in tars]
    for _, name, png in heapq.merge(*streams, key=lambda item: item[0]):
        yield name, png


def _named(tar: Path) -> Iterator[tuple[int, str, bytes]]:
    for k, png in tar_images(tar):
        yield k, f"{tar.stem}/{k}.png", png


def default_tars(root: Path | None = None) -> list[Path]:
    """The four unlabeled training tars of the shared data folder."""
    base = (root or shared_data_dir()) / IM2LATEX
    return [base / name for name in UNLABELED_TARS]


class Labeller:
    """A model and its vocabulary, reading batches of images into hypotheses.

    The beam width and the longest output are the options', else those saved with the model
    (`saved`).
    """

    def __init__(
        self,
        model: ImageToMarkupModel,
        vocab: Vocab,
        options: Options,
        saved: DecodeConfig | None = None,
    ):
        saved = saved or DecodeConfig()
        self.model = model.eval()
        self.vocab = vocab
        self.options = options
        self.beam_size = options.beam_size or saved.beam_size
        self.max_len = saved.max_len if options.max_len is None else options.max_len
        self.device = next(model.parameters()).device
        self.seconds = 0.0

    def __call__(self, images: Sequence[_Image], beam_size: int) -> list[list[str]]:
        """Each image's hypotheses as token strings, best first (one for greedy decoding)."""
        search = Search(beam_size, self.max_len)
        pixels = [image.model_input for image in images]
        decoded = decode_images(self.model, pixels, self.device, search, self.options.batch_size)
        out = []
        for hyp, seconds in decoded:
            out.append([" ".join(self.vocab.decode(h.token_ids)) for h in hyp.n_best or [hyp]])
            self.seconds += seconds
        return out


def label_chunk(
    images: Sequence[_Image], labeller: Labeller, options: Options
) -> list[tuple[_Image, PseudoLabel | None, str]]:
    """(image, its verified label or None, how or why not) for each image."""
    greedy = labeller(images, beam_size=1)
    first = _check(images, [hyps[:1] for hyps in greedy], options, beam=False)
    results = [
        (image, label, outcome) for image, (label, outcome) in zip(images, first, strict=True)
    ]
    failed = [i for i, (label, _) in enumerate(first) if label is None]
    if not failed or labeller.beam_size <= 1:
        return results
    retry = [images[i] for i in failed]
    beams = labeller(retry, beam_size=labeller.beam_size)
    for i, (label, outcome) in zip(failed, _check(retry, beams, options, beam=True), strict=True):
        if label is not None:
            results[i] = (images[i], label, outcome)
    return results


def _check(
    images: Sequence[_Image], hypotheses: Sequence[Sequence[str]], options: Options, beam: bool
) -> list[tuple[PseudoLabel | None, str]]:
    """Per image, the first hypothesis whose render verifies and how it was found, else why
    the best hypothesis failed. All hypotheses of all images are rendered in one batch."""
    normalized = [[normalize(tokens) for tokens in hyps] for hyps in hypotheses]
    texts = sorted({n.text for hyps in normalized for n in hyps if n.ok})
    rendered = render_formulas(
        texts, "shared", workers=options.workers, cache_dir=options.render_cache
    )
    renders = {text: result.image for text, result in zip(texts, rendered, strict=True)}
    results: list[tuple[PseudoLabel | None, str]] = []
    for image, hyps in zip(images, normalized, strict=True):
        outcomes = []
        for rank, hyp in enumerate(hyps, start=1):
            if not hyp.ok:
                outcomes.append("does not parse")
            elif renders[hyp.text] is None:
                outcomes.append("does not render")
            elif verify(image.pixels, renders[hyp.text]).accepted:
                how = f"beam-{rank}" if beam else "greedy"
                results.append((PseudoLabel(image.name, hyp.text, how), how))
                break
            else:
                outcomes.append(NOT_MATCHING)
        else:
            results.append((None, outcomes[0] if outcomes else "no hypothesis"))
    return results


def _read(name: str, png: bytes) -> _Image | str:
    """The image ready to decode, or why it cannot be read."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            pixels = np.asarray(image.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        return f"unreadable image ({error})"
    return _Image(name, pixels, model_input(pixels))


def run_pass(
    labeller: Labeller,
    images: Iterable[tuple[str, bytes]],
    out: Path,
    options: Options,
    limit: int | None = None,
) -> PassReport:
    """Label the first `limit` images (all by default) not done before; see the module."""
    start = time.perf_counter()
    report, done = PassReport(), done_images(out)
    bar = tqdm(total=limit, unit="image", desc="pseudo-label", disable=not options.progress)
    with open_for_append(out) as labels, open_for_append(done_path(out)) as log, bar:
        chunk: list[_Image] = []
        for count, (name, png) in enumerate(images):
            if limit is not None and count >= limit:
                break
            if name in done:
                report.skipped += 1
                bar.update(1)
                continue
            item = _read(name, png)
            if isinstance(item, str):
                log.write(f"{name}\t{item}\n")
                report.images += 1
                report.refused["unreadable image"] += 1
                bar.update(1)
                continue
            chunk.append(item)
            if len(chunk) == options.chunk:
                _finish(chunk, labeller, options, labels, log, report, bar)
                chunk = []
        if chunk:
            _finish(chunk, labeller, options, labels, log, report, bar)
    report.decode_seconds = labeller.seconds
    report.seconds = time.perf_counter() - start
    return report


def _finish(
    chunk: list[_Image],
    labeller: Labeller,
    options: Options,
    labels: TextIO,
    log: TextIO,
    report: PassReport,
    bar: tqdm,
) -> None:
    """Label one chunk and append its results (labels first, so a kill loses nothing kept)."""
    results = label_chunk(chunk, labeller, options)
    for _, label, _ in results:
        if label is not None:
            labels.write(label.line())
    labels.flush()
    for image, label, outcome in results:
        log.write(f"{image.name}\t{outcome}\n")
        report.images += 1
        if label is not None:
            report.verified[outcome] += 1
        else:
            report.refused[outcome] += 1
    log.flush()
    bar.update(len(chunk))
    kept = sum(report.verified.values())
    bar.set_postfix(verified=f"{kept}/{report.images}")


def pseudo_label(
    model_dir: Path,
    out: Path | None = None,
    *,
    tars: Sequence[Path] | None = None,
    limit: int | None = None,
    options: Options | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> PassReport:
    """`im2markup data pseudo-label`: one (resumable) pass of `model_dir` over the images
    (the unlabeled training tars by default) into `out` (`<data dir>/pseudo-labels.tsv`)."""
    options = options or Options()
    loaded = load_for_inference(model_dir, device, threads=threads)
    labeller = Labeller(loaded.model, loaded.vocab, options, loaded.decode)
    images = unlabeled_images(list(tars) if tars else default_tars())
    target = out if out is not None else data_dir() / "pseudo-labels.tsv"
    return run_pass(labeller, images, target, options, limit)
