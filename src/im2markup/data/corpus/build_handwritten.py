"""`im2markup data build-handwritten`: the synthetic handwriting datasets of the CROHME recipe.

Two datasets, each a folder that `im2markup train` reads with `data.name = "<name>/pretrain"`
or `"<name>/crohme"` (`train/`, `val/`, `vocab.txt`, `manifest.json`):

* `pretrain/train` — printed training formulas (the pool of `im2markup data build`), chosen
  and relabelled by `pretrain_formulas`, drawn once each by `render_handwritten`;
* `crohme/train` — the CROHME training captions in normalized form, each drawn
  `crohme_renders` times with different seeds and stronger distortions (`HEAVY`);
* `crohme/val` (and the same split as `pretrain/val`) — the captions of a seeded
  `val_fraction` of the distinct CROHME training formulas, held out and drawn once with the
  default distortions: model selection for both stages, never trained on.

The vocabulary is the printed dataset's followed by the CROHME tokens it lacks. No CROHME 2014
test caption and no IM2LATEX-100K test formula reaches any split: captions and printed formulas
equal to one (exactly or nearly, `cleaning.Exclusions`) are removed, and the written labels are
checked again against both test sets (`test_labels_found` in the manifests).
Formulas are drawn on every core with seeds derived from `seed` (`drawing`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from im2markup.data.corpus import pretrain_formulas
from im2markup.data.corpus.cleaning import Exclusions
from im2markup.data.corpus.corpora import im2latex_split
from im2markup.data.corpus.manifest import file_digest, write_manifest
from im2markup.data.corpus.split_writers import SplitWriter, training_filter
from im2markup.data.handwriting.crohme import NORMALIZED_CROHME_TOKENS, to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TRAIN_CAPTIONS, read_captions
from im2markup.data.handwriting.distort import Distortion
from im2markup.data.handwriting.drawing import SEEDS, Drawer
from im2markup.data.shards import ShardReader, formula_key
from im2markup.data.vocab import Vocab
from im2markup.paths import data_dir, shared_data_dir

log = logging.getLogger(__name__)

HEAVY = dataclasses.replace(
    Distortion(),
    glyph_scale=0.12,
    glyph_rotation=7.0,
    glyph_shear=0.14,
    glyph_shift=2.0,
    max_glyph_move=7.0,
    spread_rows=(1.0, 1.5),
    spread_cols=(1.05, 1.6),
    scale=(0.8, 1.2),
    slant=(-16.0, 16.0),
    baseline_drift=5.0,
    elastic_alpha=3.0,
    pen_width=(2.5, 5.2),
)
"""The CROHME training renders' distortions: wider than the defaults, which were matched to
the test bitmaps, because each caption is drawn several times and writers vary more."""

STYLE, HEAVY_STYLE = "handwritten", "handwritten-heavy"
_PRETRAIN, _CROHME_TRAIN, _CROHME_VAL = range(3)


@dataclass
class HandwrittenOptions:
    """Everything a handwriting build depends on besides the input files themselves."""

    name: str = "hw-v1"
    printed: Path | None = None
    pretrain: int = 40_000
    crohme_renders: int = 3
    val_fraction: float = 0.1
    seed: int = 0
    limit: int | None = None
    shared: Path | None = None
    out: Path | None = None
    workers: int = 2
    render_cache: Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.pretrain < 0 or self.crohme_renders < 1 or self.workers < 1:
            raise ValueError("pretrain must be at least 0, crohme_renders and workers at least 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    @property
    def printed_dir(self) -> Path:
        return self.printed if self.printed is not None else data_dir() / "im2latex-v1"

    @property
    def directory(self) -> Path:
        return self.out if self.out is not None else data_dir() / self.name


@dataclass(frozen=True)
class Caption:
    """A CROHME training caption: its id, CROHME tokens and normalized form."""

    id: str
    tokens: str
    normalized: str


def crohme_splits(
    captions: Sequence[tuple[str, list[str]]],
    test: Exclusions,
    val_fraction: float,
    seed: int,
) -> tuple[list[Caption], list[Caption], dict[str, int]]:
    """Train and held-out captions, and how many were removed for which reason.

    A caption equal to a test formula, or with a token outside the CROHME set (logged with its
    id), is removed. The held-out part is every caption of a seeded `val_fraction` of the
    distinct formulas, so no validation formula is trained on under another caption id.
    """
    kept: list[Caption] = []
    removed: Counter[str] = Counter()
    for caption_id, tokens in captions:
        try:
            caption = Caption(caption_id, " ".join(tokens), " ".join(to_normalized(tokens)))
        except ValueError as error:
            log.warning("CROHME caption %s left out: %s", caption_id, error)
            removed["not CROHME tokens"] += 1
            continue
        match = test.match(caption.normalized)
        if match is None:
            kept.append(caption)
        else:
            removed[f"equals {match}"] += 1
    keys = sorted({formula_key(c.normalized) for c in kept})
    size = round(val_fraction * len(keys))
    held = set(np.random.default_rng(seed).choice(keys, size=size, replace=False).tolist())
    train = [c for c in kept if formula_key(c.normalized) not in held]
    val = [c for c in kept if formula_key(c.normalized) in held]
    return train, val, dict(removed)


def handwritten_vocab(printed: Vocab) -> Vocab:
    """The printed vocabulary, then the normalized CROHME tokens it lacks (sorted)."""
    return Vocab([*printed.tokens, *sorted(NORMALIZED_CROHME_TOKENS - set(printed.tokens))])


def _write_crohme(
    draw: Drawer, train: list[Caption], val: list[Caption], renders: int, out: Path
) -> dict[str, object]:
    """`crohme/train` (`renders` heavy draws of each caption) and `crohme/val` (one each)."""
    split = SplitWriter(out / "train")
    for copy in range(renders):
        desc = f"crohme train {copy + 1}/{renders}"
        for result in draw([c.normalized for c in train], _CROHME_TRAIN, copy, HEAVY, desc):
            caption = train[result.index]
            reason = training_filter(result, caption.normalized)
            if reason is not None:
                split.dropped[reason] += 1
                continue
            ref = f"crohme-train:{caption.id}#{copy}"
            split.add(
                result.image, caption.normalized, "crohme-train", HEAVY_STYLE, caption.tokens, ref
            )
    splits = {"train": split.close()}
    split = SplitWriter(out / "val")
    for result in draw([c.normalized for c in val], _CROHME_VAL, 0, Distortion(), "crohme val"):
        caption = val[result.index]
        if result.image is None:
            split.dropped["does not render"] += 1
            continue
        ref = f"crohme-train:{caption.id}"
        split.add(result.image, caption.normalized, "crohme-train", STYLE, caption.tokens, ref)
    splits["val"] = split.close()
    return splits


def _write_pretrain(
    draw: Drawer, ranked: list[pretrain_formulas.Candidate], count: int, out: Path
) -> dict[str, object]:
    """`pretrain/train`: the first `count` ranked formulas that pass the training filter.

    Formulas are drawn in rank order (default distortions) until `count` are written, so a
    render that fails or is too large gives its place to the next formula.
    """
    split, crohme_only = SplitWriter(out / "train"), 0
    if count > 0:
        labels = [item.label for item in ranked]
        for result in draw(labels, _PRETRAIN, 0, Distortion(), "pretrain", total=count):
            item = ranked[result.index]
            reason = training_filter(result, item.label)
            if reason is not None:
                split.dropped[reason] += 1
                continue
            entry = item.entry
            split.add(result.image, item.label, entry.source, STYLE, entry.formula, entry.ref)
            crohme_only += item.outside == 0
            if len(split.writer) == count:
                break
    return {"train": {**split.close(), "crohme_only": crohme_only}}


def _test_labels_written(directory: Path, test: Exclusions) -> int:
    """How many written labels equal a test formula (the build's own check: 0)."""
    return sum(test.match(label) is not None for label in ShardReader(directory).labels())


def build_handwritten(options: HandwrittenOptions) -> dict[str, dict[str, object]]:
    """Build `<directory>/crohme` and `<directory>/pretrain`; returns their manifests."""
    started = time.time()
    root = options.shared if options.shared is not None else shared_data_dir()
    pool_file, vocab_file = options.printed_dir / "pool.tsv", options.printed_dir / "vocab.txt"
    for path in (pool_file, vocab_file):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `im2markup data build` first")
    captions = read_captions(root / TRAIN_CAPTIONS)[: options.limit]
    forbidden = {
        "crohme2014-test": [
            " ".join(to_normalized(t)) for _, t in read_captions(root / TEST_CAPTIONS)
        ],
        "im2latex-test": im2latex_split("test", root).norm,
    }
    test = Exclusions(forbidden)
    train, val, removed = crohme_splits(captions, test, options.val_fraction, options.seed)
    vocab = handwritten_vocab(Vocab.load(vocab_file))
    heldout = Exclusions({**forbidden, "crohme-val": [c.normalized for c in val]})
    ranked, selection = pretrain_formulas.rank(
        pretrain_formulas.read_pool(pool_file), set(vocab.tokens), heldout, options.seed
    )
    names = [TRAIN_CAPTIONS, TEST_CAPTIONS, "im2latex100k/formulas/test.formulas.norm.txt"]
    inputs = {name: file_digest(root / name) for name in names}
    inputs |= {f"printed/{p.name}": file_digest(p) for p in (pool_file, vocab_file)}
    crohme_dir, pretrain_dir = options.directory / "crohme", options.directory / "pretrain"
    for folder in (crohme_dir, pretrain_dir):
        folder.mkdir(parents=True, exist_ok=True)
        vocab.save(folder / "vocab.txt")
    with Drawer(options.seed, options.workers, options.render_cache, options.progress) as draw:
        crohme_report = _write_crohme(draw, train, val, options.crohme_renders, crohme_dir)
        shutil.rmtree(pretrain_dir / "val", ignore_errors=True)
        shutil.copytree(crohme_dir / "val", pretrain_dir / "val")
        pretrain_report = _write_pretrain(draw, ranked, options.pretrain, pretrain_dir)
    pretrain_report["val"] = crohme_report["val"]
    common = {
        "distortions": {
            STYLE: dataclasses.asdict(Distortion()),
            HEAVY_STYLE: dataclasses.asdict(HEAVY),
        },
        "seeds": SEEDS,
        "crohme_captions": {"train": len(train), "val": len(val), "removed": removed},
        "pretrain_selection": selection,
    }
    manifests = {}
    for folder, splits in ((crohme_dir, crohme_report), (pretrain_dir, pretrain_report)):
        check = {s: _test_labels_written(folder / s, test) for s in ("train", "val")}
        manifests[folder.name] = write_manifest(
            folder,
            command=sys.argv,
            options=options,
            inputs=inputs,
            splits=splits,
            yields={},
            extra={**common, "test_labels_found": check},
            seconds=time.time() - started,
        )
    return manifests
