"""`im2markup data build-handwritten --glyphs N`: synthetic handwriting from real CROHME glyphs.

`<name>/glyphs` (`train/`, `val/`, `vocab.txt`, `manifest.json`), read with
`data.name = "<name>/glyphs"`:

* `train` — `count` drawings of formulas laid out by TeX (`glyph_layout`) and written with
  the real glyphs of the writers the ink dataset trains on (`glyph_bank`, `glyph_synthesis`),
  then drawn like the inks (`ink_render` with `InkAugment`, the ink build's size filter). Half
  the drawings are of the CROHME training captions of those writers, half of printed formulas
  whose handwriting form uses only CROHME symbols (`pretrain_formulas`), from the normalized
  shared corpora and the IM2LATEX-100K validation formulas. With `caption_variants` K, a third
  are of up to K variants of each caption, its symbols swapped within their class
  (`caption_variants`), and the other two sources a third each. Each source's distinct formulas
  are drawn in a seeded order, again and again with new glyphs when there are fewer formulas
  than drawings. A formula whose layout is not exactly its label's CROHME symbols is left out.
* `val` — the ink dataset's `val`, drawn by `ink_build` itself: the real ink of the held-out
  writers, so that model selection is always on real handwriting.

No formula equal (exactly or nearly, `cleaning.Exclusions`) to a CROHME 2014 test caption or an
IM2LATEX-100K test formula is drawn, and the written labels are checked against both test sets
again (`test_labels_found`, must be 0). Drawing `k` has its own generators (`SEEDS`), so the
build is the same whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from im2markup.data.corpus import pretrain_formulas
from im2markup.data.corpus.build_ink import (
    InkOptions,
    draw_for_training,
    read_vocab,
    write_drawings,
)
from im2markup.data.corpus.cleaning import Exclusions, PoolEntry
from im2markup.data.corpus.corpora import CORPORA, im2latex_split
from im2markup.data.corpus.crohme_inks import LabelledInk, ink_test_formulas, writer_split
from im2markup.data.corpus.handwriting_options import HandwritingBuildOptions
from im2markup.data.corpus.manifest import file_digest, write_manifest
from im2markup.data.corpus.split_writers import MAX_TOKENS, SplitWriter
from im2markup.data.handwriting.caption_variants import caption_variants
from im2markup.data.handwriting.crohme import from_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS
from im2markup.data.handwriting.glyph_bank import GlyphBank
from im2markup.data.handwriting.glyph_layout import GlyphBox, coverage_problem, layout_formulas
from im2markup.data.handwriting.glyph_synthesis import SynthesisStyle, bank_label, synthesize
from im2markup.data.handwriting.ink_render import InkAugment, InkStyle
from im2markup.data.handwriting.inkml import TRAIN_INKML
from im2markup.data.handwriting.photo import PhotoOptions
from im2markup.data.shards import ShardReader, formula_key
from im2markup.latex.normalizer import normalize
from im2markup.paths import shared_data_dir

STYLE, PHOTO_STYLE = "glyphs", "glyphs-photo"
CROHME_SOURCE = "crohme-train"
VARIANT_SOURCE = "crohme-variant"
PRINTED_CORPORA = ("im2latex170k", "arxiv-multiline")
CHUNK = 512
SEEDS = "drawing k: synthesis default_rng([seed, k, 0]), ink drawing default_rng([seed, k, 1])"


@dataclass
class GlyphOptions(HandwritingBuildOptions):
    """Everything a glyph build depends on besides the input files: `count` drawings."""

    count: int = 40_000
    caption_variants: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.caption_variants < 0:
            raise ValueError("caption_variants must be 0 or more")

    @property
    def directory(self) -> Path:
        return self.folder("glyphs")


@dataclass(frozen=True)
class Formula:
    """A formula to draw: its label, where it came from, and its symbol boxes once laid out."""

    label: str
    source: str
    alt: str
    ref: str
    boxes: tuple[GlyphBox, ...] = ()


def crohme_formulas(items: Sequence[LabelledInk]) -> list[Formula]:
    """The distinct captions of the training writers' inks (first caption id as reference)."""
    seen: dict[str, Formula] = {}
    for item in items:
        key = formula_key(item.label)
        if key not in seen:
            seen[key] = Formula(
                item.label, CROHME_SOURCE, item.tokens, f"crohme-train:{item.ink.id}"
            )
    return list(seen.values())


def variant_formulas(
    crohme: Sequence[Formula], per_caption: int, exclusions: Exclusions, seed: int
) -> tuple[list[Formula], dict[str, int]]:
    """`per_caption` variants of each caption with symbols swapped in class (`caption_variants`),
    those matching no exclusion (the test sets, the training captions), and the count of the
    others."""
    made = caption_variants([f.label for f in crohme], per_caption, seed)
    kept, excluded = [], Counter[str]()
    for index, label in made:
        match = exclusions.match(label)
        if match is not None:
            excluded[f"equals {match}"] += 1
            continue
        alt = " ".join(from_normalized(label.split()))
        kept.append(Formula(label, VARIANT_SOURCE, alt, f"{crohme[index].ref}~{len(kept)}"))
    return kept, {"made": len(made), **dict(sorted(excluded.items()))}


def printed_pool(root: Path, limit: int | None) -> list[PoolEntry]:
    """The normalized shared corpora and IM2LATEX-100K validation formulas, normalized again
    (`limit`: the first formulas of each source)."""
    sources = [
        (corpus.name, list(enumerate(corpus.formulas(root))))
        for corpus in CORPORA
        if corpus.name in PRINTED_CORPORA
    ]
    val = im2latex_split("val", root).norm
    sources.append(("im2latex-val", [(k, f) for k, f in enumerate(val) if f.strip()]))
    pool = []
    for name, formulas in sources:
        for k, formula in formulas[:limit]:
            result = normalize(formula)
            if result.ok:
                pool.append(PoolEntry(name, result.text, f"{name}:{k}"))
    return pool


def printed_formulas(
    pool: Sequence[PoolEntry], vocabulary: set[str], exclusions: Exclusions, seed: int
) -> tuple[list[Formula], dict[str, int]]:
    """The pool's formulas whose handwriting form uses only CROHME symbols, and the selection's
    counts (`pretrain_formulas.rank`: length, vocabulary, exclusions, repeats)."""
    ranked, report = pretrain_formulas.rank(pool, vocabulary, exclusions, seed)
    chosen = [
        Formula(c.label, c.entry.source, c.entry.formula, c.entry.ref)
        for c in ranked
        if c.outside == 0
    ]
    return chosen, report


def lay_out(
    formulas: Sequence[Formula], bank: GlyphBank, workers: int
) -> tuple[list[Formula], dict[str, int]]:
    """The formulas whose layout is exactly their label's CROHME symbols, each of which the bank
    has glyphs of, with their boxes; and why the others were left out."""
    kept, dropped = [], Counter[str]()
    layouts = layout_formulas([f.label for f in formulas], workers=workers)
    for formula, layout in zip(formulas, layouts, strict=True):
        if not layout.ok:
            reason = layout.error or ""
            dropped[reason if reason.startswith("no CROHME symbol") else "does not typeset"] += 1
        elif coverage_problem(formula.label, layout.boxes) is not None:
            dropped["layout differs from the label's symbols"] += 1
        elif any(not bank.samples(bank_label(box.label)) for box in layout.boxes):
            dropped["a symbol without handwritten glyphs"] += 1
        else:
            kept.append(replace(formula, boxes=layout.boxes))
    return kept, dict(sorted(dropped.items()))


def drawing_plan(sources: Sequence[Sequence[Formula]], seed: int) -> list[list[int]]:
    """Per source, a seeded order of its formulas; drawing `k` takes the next one of source
    `k % len(sources)`."""
    return [
        np.random.default_rng([seed, number]).permutation(len(formulas)).tolist()
        for number, formulas in enumerate(sources)
    ]


_BANK: GlyphBank | None = None


def _use_bank(bank: GlyphBank) -> None:
    global _BANK
    _BANK = bank


@dataclass(frozen=True)
class _Job:
    seed: int
    k: int
    photo_fraction: float
    label: str
    boxes: tuple[GlyphBox, ...]


def _synthesize_and_draw(job: _Job) -> tuple[bytes, bool] | str:
    """Drawing `k`: the formula written with bank glyphs, then drawn as an augmented variant by
    `build_ink.draw_for_training` (so with its photographs); an error message if it fails."""
    assert _BANK is not None
    rng = np.random.default_rng([job.seed, job.k, 0])
    try:
        ink = synthesize(job.boxes, _BANK, rng, label=job.label)
    except ValueError as error:
        return str(error)
    return draw_for_training((ink, job.seed, job.k, 1, job.photo_fraction))


def _reason(message: str) -> str:
    """A drop reason without the drawing's own numbers."""
    return (
        "drawing over the largest side" if message.startswith("the drawing would be") else message
    )


def _drawings(
    jobs: Iterator[_Job], bank: GlyphBank, workers: int, chunk: int
) -> Iterator[tuple[int, tuple[Image.Image, bool] | str]]:
    """`(k, (image, is photo) or reason)` for each job, in order, `chunk` jobs at a time on
    every worker; the jobs not yet started when the caller stops are cancelled."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_use_bank, initargs=(bank,))
    try:
        while batch := list(islice(jobs, chunk)):
            results = pool.map(_synthesize_and_draw, batch, chunksize=max(1, chunk // 32))
            for job, result in zip(batch, results, strict=True):
                if isinstance(result, str):
                    yield job.k, _reason(result)
                    continue
                data, photo = result
                width = int.from_bytes(data[-4:], "little")
                pixels = np.frombuffer(data[:-4], dtype=np.uint8).reshape(-1, width)
                yield job.k, (Image.fromarray(pixels), photo)
    finally:
        pool.shutdown(cancel_futures=True)


def write_train(
    sources: Sequence[Sequence[Formula]], bank: GlyphBank, options: GlyphOptions, out: Path
) -> dict[str, object]:
    """`train`: drawings in plan order until `options.count` are written (or twice as many
    were tried), a drawing that fails or is too large giving its place to the next."""
    sources = [s for s in sources if s]
    if not sources:
        raise ValueError("no formula to draw: every one was left out")
    orders = drawing_plan(sources, options.seed)
    attempts = 2 * options.count + CHUNK

    def formula(k: int) -> Formula:
        source, turn = k % len(sources), k // len(sources)
        return sources[source][orders[source][turn % len(orders[source])]]

    jobs = (
        _Job(options.seed, k, options.photo_fraction, formula(k).label, formula(k).boxes)
        for k in range(attempts)
    )
    split = SplitWriter(out)
    bar = tqdm(total=options.count, desc="glyphs train", disable=not options.progress)
    drawings = _drawings(jobs, bank, options.workers, min(CHUNK, options.count))
    for k, drawn in drawings:
        item = formula(k)
        if isinstance(drawn, str):
            split.dropped[drawn] += 1
        elif len(item.label.split()) > MAX_TOKENS:
            split.dropped[f"more than {MAX_TOKENS} tokens"] += 1
        else:
            image, photo = drawn
            style = PHOTO_STYLE if photo else STYLE
            split.add(image, item.label, item.source, style, item.alt, f"{item.ref}#{k}")
            bar.update(1)
            if len(split.writer) == options.count:
                break
    drawings.close()
    bar.close()
    return split.close()


def build_glyphs(options: GlyphOptions) -> dict[str, object]:
    """Build `<directory>` from the shared CROHME inks and corpora; returns its manifest."""
    started = time.time()
    root = options.shared if options.shared is not None else shared_data_dir()
    ink_split = writer_split(root, options.val_fraction, options.seed, options.limit)
    forbidden = {
        **ink_test_formulas(root),
        "im2latex-test-nospace": im2latex_split("test", root).nospace,
    }
    test = Exclusions(forbidden)
    vocab = read_vocab(options.vocab)
    crohme = crohme_formulas(ink_split.train)
    unknown = sorted({t for f in crohme for t in f.label.split()} - set(vocab.tokens))
    if unknown:
        raise ValueError(f"the vocabulary lacks tokens of the captions: {' '.join(unknown)}")
    exclusions = Exclusions({**forbidden, "crohme-train": [f.label for f in crohme]})
    printed, selection = printed_formulas(
        printed_pool(root, options.limit), set(vocab.tokens), exclusions, options.seed
    )
    variants, variant_selection = variant_formulas(
        crohme, options.caption_variants, exclusions, options.seed
    )
    bank = GlyphBank.from_inks(item.ink for item in ink_split.train)
    crohme, crohme_dropped = lay_out(crohme, bank, options.workers)
    printed, printed_dropped = lay_out(printed, bank, options.workers)
    variants, variants_dropped = lay_out(variants, bank, options.workers)
    out = options.directory
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.txt")
    ink_options = InkOptions(seed=options.seed, workers=options.workers, progress=options.progress)
    splits = {
        "train": write_train([crohme, printed, variants], bank, options, out / "train"),
        "val": write_drawings(ink_split.val, 1, ink_options, out / "val", "glyphs val (real ink)"),
    }
    names = [
        TRAIN_INKML,
        TRAIN_CAPTIONS,
        TEST_CAPTIONS,
        "im2latex100k/formulas/test.formulas.norm.txt",
        "im2latex100k/formulas/test.formulas.nospace.txt",
    ]
    names += [file for corpus in CORPORA if corpus.name in PRINTED_CORPORA for file in corpus.files]
    names.append("im2latex100k/formulas/val.formulas.norm.txt")
    inputs = {name: file_digest(root / name) for name in names}
    inputs["vocab"] = hashlib.sha256("\n".join(vocab.tokens).encode()).hexdigest()
    train_keys = {formula_key(label) for label in ShardReader(out / "train").labels()}
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
            "synthesis": asdict(SynthesisStyle()),
            "seeds": SEEDS,
            "bank": bank.summary(),
            "formulas": {
                "crohme": {"laid_out": len(crohme), "dropped": crohme_dropped},
                "printed": {"laid_out": len(printed), "dropped": printed_dropped},
                "variants": {"laid_out": len(variants), "dropped": variants_dropped},
            },
            "printed_selection": selection,
            "variant_selection": variant_selection,
            "expressions": {
                "train": len(ink_split.train),
                "val": len(ink_split.val),
                "removed": dict(ink_split.removed),
            },
            "writers": {
                "train": len({item.ink.writer for item in ink_split.train}),
                "val": sorted(ink_split.held),
            },
            "val_formulas_not_in_train": sum(
                formula_key(item.label) not in train_keys for item in ink_split.val
            ),
            "test_labels_found": check,
        },
        seconds=time.time() - started,
    )
