"""`im2markup render FORMULAS OUT_DIR`: line k of FORMULAS → OUT_DIR/k.png."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "render",
        help="render LaTeX formulas (one per line) to PNG images",
        description="Render line k (counting from 0) of FORMULAS to OUT_DIR/k.png; formulas "
        "that fail are listed in OUT_DIR/errors.tsv as 'k<TAB>reason'.",
    )
    parser.add_argument("formulas", type=Path, metavar="FORMULAS", help="text file, one per line")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--style",
        default="paper",
        help="paper (default), shared, handwritten (synthetic pen strokes; needs xelatex "
        "and the handwriting fonts), katex or mathjax (browser screenshots at the model's "
        "scale; need chromium)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--processed",
        dest="processed",
        action="store_true",
        default=True,
        help="crop, pad 8 px, downsample ×2 like the paper's images (default)",
    )
    size.add_argument(
        "--full", dest="processed", action="store_false", help="full-resolution crop to the ink"
    )
    parser.add_argument("--workers", type=int, default=2, help="batches typeset at once")
    parser.add_argument(
        "--thin", action="store_true", help="anti-aliased strokes composited on white"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per formula")
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.data.formula_images import render_file
    from im2markup.data.render import RenderError
    from im2markup.data.render.web import AssetsMissing, BrowserMissing

    try:
        summary = render_file(
            args.formulas,
            args.out_dir,
            style=args.style,
            processed=args.processed,
            workers=args.workers,
            timeout=args.timeout,
            composited=args.thin,
            progress=True,
        )
    except (
        OSError,
        UnicodeDecodeError,
        RenderError,
        ValueError,
        AssetsMissing,
        BrowserMissing,
    ) as error:
        print(f"im2markup render: {error}", file=sys.stderr)
        return 2
    message = f"rendered {summary.written} of {summary.total} formulas into {args.out_dir}"
    if summary.failed:
        message += f"; {summary.failed} failed, see {args.out_dir / 'errors.tsv'}"
    print(message, file=sys.stderr)
    return 0 if summary.written or not summary.total else 1
