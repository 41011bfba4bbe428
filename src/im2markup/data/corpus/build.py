"""`im2markup data build`: the packed dataset every training run and evaluation reads.

Splits (each a packed directory, see `shards`):

* `test` — the 9,443 IM2LATEX-100K test formulas rendered in the paper's template, labelled with
  their normalized form: the test set comparable with the paper's (no filter; formulas that fail
  to render are listed in `test-failed.tsv`);
* `test-shared` — the 9,443 shared test images as they are, labelled with their space-stripped
  (`nospace`) formulas, the normalized ones kept beside them;
* `val` — a fixed 1,000 validation formulas (seeded choice), each as a paper-style render
  (normalized label) and as its shared image (`nospace` label);
* `train` — the cleaned formula pool (`cleaning`) rendered in every requested style, the label
  being what the image shows (normalized for `paper`, space-stripped for `shared`), plus the
  remaining shared validation images; the paper's filters apply (≤ 150 tokens, processed image
  ≤ 500 × 160). A pseudo-label file among the `--extra` files (`pseudo_label_files`) adds its
  formulas to the pool (rendered only in `pseudo_styles`, the shared style by default) and its
  verified unlabeled images as `shared-image` pairs.

Next to them: `vocab.txt` (training tokens seen at least twice), `pool.tsv` and `manifest.json`
(counts, yields, input and output hashes, command, time; `manifest_hash` names the build).
Renders are cached by the renderer in `<cache>/renders` (shared with evaluation), so a rebuild
renders only formulas it has not seen.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from im2markup.data.corpus.cleaning import (
    PoolEntry,
    SourceYield,
    collect_pool,
    default_sources,
    exclusions_for,
    yields_table,
)
from im2markup.data.corpus.closeness import closeness
from im2markup.data.corpus.corpora import CORPORA, IM2LATEX, im2latex_split
from im2markup.data.corpus.manifest import (
    MANIFEST_NAME,
    VAL_INDICES_NAME,
    file_digest,
    load_manifest,
    read_val_indices,
    write_manifest,
)
from im2markup.data.corpus.pseudo_label_files import (
    pseudo_label_images,
    pseudo_label_source,
    split_extra,
)
from im2markup.data.corpus.recombine import recombine_pool
from im2markup.data.corpus.split_writers import write_test, write_train, write_val
from im2markup.data.formula_images import render_formulas
from im2markup.data.render import RenderResult
from im2markup.data.vocab import Vocab
from im2markup.paths import cache_dir, data_dir, shared_data_dir

_CHUNK = 2048


@dataclass
class BuildOptions:
    """Everything a build depends on besides the shared files themselves."""

    name: str = "im2latex-v1"
    shared: Path | None = None
    out: Path | None = None
    extra: list[Path] = field(default_factory=list)
    corpora: tuple[str, ...] | None = None
    styles: dict[str, float] = field(default_factory=lambda: {"paper": 1.0, "shared": 1.0})
    pseudo_styles: tuple[str, ...] = ("shared",)
    limit: int | None = None
    seed: int = 0
    val_size: int = 1000
    target_formulas: int = 150_000
    workers: int = 2
    render: bool = True
    render_cache: Path | None = None
    progress: bool = True

    @property
    def root(self) -> Path:
        return self.shared if self.shared is not None else shared_data_dir()

    @property
    def directory(self) -> Path:
        return self.out if self.out is not None else data_dir() / self.name


def heldout_indices(count: int, size: int, seed: int) -> list[int]:
    """The validation lines held out for validation: a seeded choice, sorted."""
    chosen = np.random.default_rng(seed).choice(count, size=min(size, count), replace=False)
    return sorted(int(k) for k in chosen)


def heldout_lines(dataset_dir: Path | None = None, root: Path | None = None) -> list[int]:
    """The validation lines the dataset at `dataset_dir` (default: a default build's folder)
    holds out of training, as its build recorded them beside its manifest
    (`manifest.read_val_indices`), else as its manifest's options choose them; where no
    dataset was built there, those a default build would hold out. Evaluation's `val` split
    is these lines, so it never includes a formula the dataset trained on."""
    default = BuildOptions(shared=root)
    directory = default.directory if dataset_dir is None else dataset_dir
    if (directory / VAL_INDICES_NAME).is_file():
        return read_val_indices(directory)
    built = load_manifest(directory) if (directory / MANIFEST_NAME).is_file() else {}
    chosen = {"seed": default.seed, "val_size": default.val_size, "limit": None}
    chosen |= {k: v for k, v in built.get("options", {}).items() if k in chosen}
    return _held_out(default.root, chosen["val_size"], chosen["seed"], chosen["limit"])


def _held_out(root: Path, val_size: int, seed: int, limit: int | None) -> list[int]:
    """The lines a build with these options holds out (`limit`: a quick build's first ones)."""
    held = heldout_indices(len(im2latex_split("val", root)), val_size, seed)
    return held if limit is None else held[: max(1, limit)]


class _Renders:
    """The renderer with this build's cache and settings, in memory-bounded chunks."""

    def __init__(self, options: BuildOptions):
        self.options = options
        self.cache = options.render_cache or cache_dir() / "renders"

    def __call__(self, formulas: Sequence[str], style: str) -> Iterator[RenderResult]:
        bar = tqdm(total=len(formulas), desc=f"render {style}", disable=not self.options.progress)
        with bar:
            for start in range(0, len(formulas), _CHUNK):
                chunk = formulas[start : start + _CHUNK]
                results = render_formulas(
                    chunk, style, workers=self.options.workers, cache_dir=self.cache
                )
                for result in results:
                    yield RenderResult(start + result.index, result.image, result.error)
                bar.update(len(chunk))

    def errors(self, formulas: Sequence[str]) -> list[str | None]:
        return [r.error for r in self(formulas, "paper")]


def clean(options: BuildOptions, output: Path) -> dict[str, object]:
    """`im2markup data clean`: the training pool into `output` (TSV), yields beside it (JSON)."""
    pool, yields, _held = _pool(options, _Renders(options) if options.render else None)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        "".join(f"{e.source}\t{e.ref}\t{e.formula}\n" for e in pool), encoding="utf-8"
    )
    report = {"pool_size": len(pool), "yields": yields_table(yields)}
    output.with_suffix(".yields.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _pool(
    options: BuildOptions, renders: _Renders | None
) -> tuple[list[PoolEntry], dict[str, SourceYield], list[int]]:
    """The checked training pool (recombined up to the target size), its yields, held-out lines."""
    held = _held_out(options.root, options.val_size, options.seed, options.limit)
    exclusions = exclusions_for(options.root, set(held))
    raw, pseudo = split_extra(options.extra)
    sources = default_sources(options.root, set(held), raw, options.corpora)
    sources += [pseudo_label_source(path) for path in pseudo]
    errors = renders.errors if renders is not None else None
    pool, yields = collect_pool(sources, exclusions, errors, root=options.root, limit=options.limit)
    if len(pool) < options.target_formulas:
        generated, recombined = recombine_pool(
            pool, options.target_formulas - len(pool), exclusions, errors, seed=options.seed
        )
        pool += generated
        yields["recombined"] = recombined
    return pool, yields, held


def build(options: BuildOptions) -> dict[str, object]:
    """Build every split into `options.directory` and return the manifest written there."""
    started = time.time()
    out = options.directory
    out.mkdir(parents=True, exist_ok=True)
    renders = _Renders(options)
    pool, yields, held = _pool(options, renders)
    (out / "pool.tsv").write_text(
        "".join(f"{e.source}\t{e.ref}\t{e.formula}\n" for e in pool), encoding="utf-8"
    )
    (out / VAL_INDICES_NAME).write_text("".join(f"{k}\n" for k in held), encoding="utf-8")
    test = im2latex_split("test", options.root)
    val = im2latex_split("val", options.root)
    limit = options.limit
    splits = write_test(test, len(test) if limit is None else min(limit, len(test)), renders, out)
    splits["val"] = write_val(val, held, renders, out)
    lines = set(range(len(val) if limit is None else min(limit, len(val)))) - set(held)
    exclusions = exclusions_for(options.root, set(held))
    pseudo = split_extra(options.extra)[1]
    splits["train"], labels = write_train(
        pool,
        options.styles,
        options.seed,
        (val, lines, exclusions),
        renders,
        out,
        extra_images=pseudo_label_images(pseudo, exclusions, options.root, options.limit),
        pseudo_styles=options.pseudo_styles,
    )
    Vocab.build(labels, min_count=2).save(out / "vocab.txt")
    groups: dict[str, list[str]] = {}
    for entry in pool:
        groups.setdefault(entry.source, []).append(entry.formula)
    report = {
        "pool_size": len(pool),
        "closeness_to_heldout_val": closeness(groups, [val.norm[k] for k in held]),
    }
    return write_manifest(
        out,
        command=sys.argv,
        options=options,
        inputs=_input_digests(options),
        splits=splits,
        yields=yields,
        extra=report,
        seconds=time.time() - started,
    )


def _input_digests(options: BuildOptions) -> dict[str, str]:
    """SHA-256 of every shared file the build reads, and of the `--extra` files."""
    names = [
        f"{IM2LATEX}/formulas/{s}.formulas.{f}.txt"
        for s in ("test", "val")
        for f in ("norm", "nospace")
    ]
    names += [f"{IM2LATEX}/images_{s}.tar" for s in ("test", "val")]
    names += [name for corpus in CORPORA for name in corpus.files]
    digests = {name: file_digest(options.root / name) for name in names}
    return digests | {str(path): file_digest(path) for path in options.extra}
