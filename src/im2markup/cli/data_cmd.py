"""`im2markup data mine|clean|build|stats|pseudo-label|pack|unpack`: the training data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from im2markup.inference.defaults import BATCH_SIZE


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("data", help="mine formulas, clean corpora, build the packed dataset")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    mine = actions.add_parser("mine", help="extract display formulas from LaTeX sources")
    mine.add_argument("sources", nargs="+", type=Path, help=".tex files, folders, .gz/.tar.gz")
    mine.add_argument("-o", "--output", type=Path, required=True, help="formulas, one per line")
    clean = actions.add_parser("clean", help="the cleaned, normalized, test-free formula pool")
    _common(clean)
    clean.add_argument("-o", "--output", type=Path, required=True, help="pool TSV to write")
    clean.add_argument("--no-render", action="store_true", help="skip the render check")
    build = actions.add_parser("build", help="render and pack train/val/test splits")
    _common(build)
    build.add_argument("--name", default="im2latex-v1", help="dataset name (default im2latex-v1)")
    build.add_argument("--out", type=Path, help="output folder (default <data dir>/NAME)")
    build.add_argument(
        "--styles",
        default="paper,shared",
        help="training render styles, each optionally with the fraction of the pool it renders "
        "(e.g. paper,shared:0.5)",
    )
    build.add_argument(
        "--pseudo-label-styles",
        default="shared",
        help="styles the formulas of pseudo-label files render in (default shared: their "
        "spacing was never verified)",
    )
    pseudo = actions.add_parser(
        "pseudo-label", help="label the unlabeled shared images, keeping render-verified labels"
    )
    pseudo.add_argument("--model", type=Path, required=True, help="trained model directory")
    pseudo.add_argument(
        "--images", type=Path, nargs="+", help="image tars (default: the unlabeled training tars)"
    )
    pseudo.add_argument(
        "--out", type=Path, help="labels TSV, appended to (default <data dir>/pseudo-labels.tsv)"
    )
    pseudo.add_argument("--limit", type=int, help="only the first N images (done ones included)")
    pseudo.add_argument("--beam", type=int, help="beam for images greedy fails (the model's, 5)")
    pseudo.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="images decoded at once")
    pseudo.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    pseudo.add_argument("--threads", type=int, help="PyTorch CPU threads")
    pseudo.add_argument("--workers", type=int, default=2, help="render batches at once")
    stats = actions.add_parser("stats", help="closeness of a built pool to the validation set")
    stats.add_argument("--data", type=Path, help="built dataset (default <data dir>/im2latex-v1)")
    stats.add_argument("--shared", type=Path, help="shared data folder")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _handwritten_parser(actions)
    _compact_parsers(actions)
    return parser


def _compact_parsers(actions: argparse._SubParsersAction) -> None:
    pack = actions.add_parser(
        "pack", help="one xz file with a subset of a built dataset, to train elsewhere"
    )
    pack.add_argument("out", type=Path, help="compact file to write (e.g. subset.xz)")
    pack.add_argument("--data", type=Path, help="built dataset (default <data dir>/im2latex-v1)")
    pack.add_argument("--train", type=int, default=60_000, help="training pairs (60000)")
    pack.add_argument("--val", type=int, default=1_000, help="validation pairs (1000)")
    pack.add_argument("--seed", type=int, default=0, help="subset choice seed")
    unpack = actions.add_parser("unpack", help="a dataset folder from a `data pack` file")
    unpack.add_argument("file", type=Path, help="compact file")
    unpack.add_argument("--name", default="compact", help="dataset name (default compact)")
    unpack.add_argument("--out", type=Path, help="output folder (default <data dir>/NAME)")
    unpack.add_argument("--workers", type=int, default=1, help="PNG encoding processes")
    merge = actions.add_parser(
        "merge",
        help="one dataset to train on from several of one vocabulary (validation from the first)",
    )
    merge.add_argument("datasets", nargs="+", help="dataset names or folders")
    merge.add_argument("--name", required=True, help="the merged dataset's name (<data dir>/NAME)")
    merge.add_argument("--out", type=Path, help="output folder (default <data dir>/NAME)")


def _compact(args: argparse.Namespace) -> int:
    from im2markup.data.compact import pack, unpack
    from im2markup.paths import data_dir

    try:
        if args.action == "pack":
            dataset = args.data or data_dir() / "im2latex-v1"
            report = pack(dataset, args.out, {"train": args.train, "val": args.val}, args.seed)
            print(json.dumps(report.as_dict(), indent=2))
        else:
            out = args.out or data_dir() / args.name
            print(json.dumps(unpack(args.file, out, args.workers), indent=2))
    except (ValueError, FileNotFoundError) as error:
        print(f"im2markup data {args.action}: {error}", file=sys.stderr)
        return 2
    return 0


def _merge(args: argparse.Namespace) -> int:
    from im2markup.data.corpus.merge import MergeOptions, merge_datasets
    from im2markup.paths import data_dir

    sources = tuple(
        Path(name) if Path(name).is_dir() else data_dir() / name for name in args.datasets
    )
    try:
        manifest = merge_datasets(MergeOptions(sources, args.out or data_dir() / args.name))
    except (ValueError, FileExistsError) as error:
        print(f"im2markup data merge: {error}", file=sys.stderr)
        return 2
    report = {k: manifest[k] for k in ("manifest_hash", "seconds", "packed_bytes", "splits")}
    print(json.dumps(report, indent=2))
    return 0


def _handwritten_parser(actions: argparse._SubParsersAction) -> None:
    hw = actions.add_parser(
        "build-handwritten",
        help="handwriting datasets: the real CROHME inks (--ink), formulas written with real "
        "glyphs (--glyphs), or font-drawn formulas and captions (default)",
    )
    hw.add_argument(
        "--name",
        help="folder NAME/{pretrain,crohme} (default hw-v1); with --ink or --glyphs NAME/ink or "
        "NAME/glyphs (default hw-v2)",
    )
    hw.add_argument("--out", type=Path, help="output folder (default <data dir>/NAME)")
    hw.add_argument("--printed", type=Path, help="printed dataset (default <data dir>/im2latex-v1)")
    hw.add_argument("--pretrain", type=int, default=40_000, help="printed formula images (40000)")
    hw.add_argument("--crohme-renders", type=int, default=3, help="drawings per CROHME caption (3)")
    hw.add_argument(
        "--val-fraction",
        type=float,
        help="CROHME formulas held out (0.1); with --ink or --glyphs, expressions of held-out "
        "writers (0.08)",
    )
    hw.add_argument("--seed", type=int, default=0, help="held-out choice and drawing seed")
    hw.add_argument("--limit", type=int, help="first N CROHME training captions (quick runs)")
    hw.add_argument("--shared", type=Path, help="shared data folder (default ../shared/data)")
    hw.add_argument("--workers", type=int, default=2, help="drawing processes (default 2)")
    hw.add_argument(
        "--ink",
        action="store_true",
        help="instead: the real CROHME training inks drawn as bitmaps (NAME/ink), validation on "
        "held-out writers",
    )
    hw.add_argument("--variants", type=int, default=8, help="with --ink: drawings per ink (8)")
    hw.add_argument(
        "--photo-fraction",
        type=float,
        default=0.3,
        help="with --ink or --glyphs: distorted drawings photographed on paper (0.3)",
    )
    hw.add_argument(
        "--vocab",
        type=Path,
        help="with --ink or --glyphs: a vocab.txt or model directory (default the bundled "
        "handwriting model)",
    )
    hw.add_argument(
        "--glyphs",
        type=int,
        metavar="N",
        help="instead: N drawings of formulas laid out by TeX and written with real CROHME glyphs "
        "(NAME/glyphs, default hw-v2), validation on held-out writers' real ink",
    )
    hw.add_argument(
        "--caption-variants",
        type=int,
        default=0,
        metavar="K",
        help="with --glyphs: also draw up to K variants of each CROHME caption, its symbols "
        "swapped within their class (a third of the drawings; default 0: none)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=Path, help="shared data folder (default ../shared/data)")
    parser.add_argument(
        "--extra",
        type=Path,
        nargs="*",
        default=[],
        help="raw formula files, or pseudo-label files (`data pseudo-label`)",
    )
    parser.add_argument(
        "--corpora",
        help="comma-separated shared corpora to draw from (default all: arxiv-hepth, "
        "arxiv-extra, im2latex170k, arxiv-multiline, wikipedia)",
    )
    parser.add_argument("--limit", type=int, help="first N formulas of each source (quick runs)")
    parser.add_argument("--seed", type=int, default=0, help="held-out choice and mixing seed")
    parser.add_argument(
        "--target",
        type=int,
        help="recombine up to this many pool formulas (default 150000, 0 with --limit)",
    )
    parser.add_argument("--workers", type=int, default=2, help="render batches at once")


def _styles(text: str) -> dict[str, float]:
    styles = {}
    for item in text.split(","):
        name, _, fraction = item.strip().partition(":")
        styles[name] = float(fraction) if fraction else 1.0
    return styles


def _build_from_inks(args: argparse.Namespace) -> int:
    """`--ink` or `--glyphs N`: the two builds from the CROHME training inks."""
    from im2markup.data.corpus.build_glyphs import GlyphOptions, build_glyphs
    from im2markup.data.corpus.build_ink import InkOptions, build_ink
    from im2markup.inference.loading import default_model_dir

    shared = {
        "name": args.name or "hw-v2",
        "val_fraction": 0.08 if args.val_fraction is None else args.val_fraction,
        "photo_fraction": args.photo_fraction,
        "seed": args.seed,
        "limit": args.limit,
        "shared": args.shared,
        "out": args.out,
        "workers": args.workers,
    }
    try:
        shared["vocab"] = args.vocab or default_model_dir(handwritten=True)
        if args.glyphs is not None:
            options = GlyphOptions(
                count=args.glyphs, caption_variants=args.caption_variants, **shared
            )
            manifest = build_glyphs(options)
            keys = ("formulas", "variant_selection", "test_labels_found")
        else:
            manifest = build_ink(InkOptions(variants=args.variants, **shared))
            keys = ("expressions",)
    except (ValueError, FileNotFoundError) as error:
        print(f"im2markup data build-handwritten: {error}", file=sys.stderr)
        return 2
    keys = ("manifest_hash", "seconds", "packed_bytes", "splits", *keys)
    print(json.dumps({k: manifest[k] for k in keys}, indent=2))
    return 0


def _build_handwritten(args: argparse.Namespace) -> int:
    from im2markup.data.corpus.build_handwritten import HandwrittenOptions, build_handwritten

    if args.glyphs is not None or args.ink:
        return _build_from_inks(args)
    try:
        options = HandwrittenOptions(
            name=args.name or "hw-v1",
            printed=args.printed,
            pretrain=args.pretrain,
            crohme_renders=args.crohme_renders,
            val_fraction=0.1 if args.val_fraction is None else args.val_fraction,
            seed=args.seed,
            limit=args.limit,
            shared=args.shared,
            out=args.out,
            workers=args.workers,
        )
        manifests = build_handwritten(options)
    except (ValueError, FileNotFoundError) as error:
        print(f"im2markup data build-handwritten: {error}", file=sys.stderr)
        return 2
    keys = ("manifest_hash", "seconds", "packed_bytes", "splits")
    print(json.dumps({name: {k: m[k] for k in keys} for name, m in manifests.items()}, indent=2))
    return 0


def _pseudo_label(args: argparse.Namespace) -> int:
    from im2markup.pseudo_label.labelling import Options, pseudo_label

    options = Options(beam_size=args.beam, batch_size=args.batch_size, workers=args.workers)
    try:
        report = pseudo_label(
            args.model,
            args.out,
            tars=args.images,
            limit=args.limit,
            options=options,
            device=args.device,
            threads=args.threads,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"im2markup data pseudo-label: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "build-handwritten":
        return _build_handwritten(args)
    if args.action == "mine":
        from im2markup.data.corpus.mining import mine_sources

        report = mine_sources(args.sources, args.output)
        for error in report.errors:
            print(f"skipped {error}", file=sys.stderr)
        print(report.summary(), file=sys.stderr)
        return 0
    if args.action == "stats":
        from im2markup.data.corpus.closeness import dataset_closeness, format_table
        from im2markup.paths import data_dir

        rows = dataset_closeness(args.data or data_dir() / "im2latex-v1", args.shared)
        print(json.dumps(rows, indent=2) if args.json else format_table(rows))
        return 0
    if args.action == "pseudo-label":
        return _pseudo_label(args)
    if args.action in ("pack", "unpack"):
        return _compact(args)
    if args.action == "merge":
        return _merge(args)
    from im2markup.data.corpus.build import BuildOptions, build, clean

    options = BuildOptions(
        shared=args.shared,
        extra=list(args.extra),
        corpora=tuple(c.strip() for c in args.corpora.split(",")) if args.corpora else None,
        limit=args.limit,
        seed=args.seed,
        target_formulas=args.target if args.target is not None else 0 if args.limit else 150_000,
        workers=args.workers,
    )
    if args.action == "clean":
        options.render = not args.no_render
        report = clean(options, args.output)
    else:
        options.name, options.out, options.styles = args.name, args.out, _styles(args.styles)
        options.pseudo_styles = tuple(s.strip() for s in args.pseudo_label_styles.split(","))
        report = build(options)
        report = {k: report[k] for k in ("manifest_hash", "seconds", "packed_bytes", "splits")}
    print(json.dumps(report, indent=2))
    return 0
