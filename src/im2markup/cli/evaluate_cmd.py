"""`im2markup evaluate`: the paper's metrics for a predictions file, a comparison, or a suite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SPLIT_NAMES = ("test", "test-shared", "val", "crohme2014")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "evaluate",
        help="BLEU, edit distances and image match of predictions, with an HTML report",
        description=(
            "Score PREDICTIONS (one per line, line k = item k, or `im2markup predict --json` "
            "output) against a split as the paper does, rendering gold and predictions alike. "
            "Writes metrics.json, metrics.md, items.jsonl and report.html."
        ),
    )
    parser.add_argument("predictions", nargs="?", type=Path, metavar="PREDICTIONS")
    gold = parser.add_mutually_exclusive_group()
    gold.add_argument(
        "--split", choices=SPLIT_NAMES, help="evaluate against this split (--suite: default test)"
    )
    gold.add_argument("--gold", type=Path, metavar="FORMULAS", help="gold formulas, one a line")
    parser.add_argument("--images", type=Path, metavar="DIR", help="input images k.png (--gold)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--style", choices=("paper", "shared"), help="render style override")
    parser.add_argument("--workers", type=int, default=2, help="render processes (default 2)")
    parser.add_argument("--no-images", action="store_true", help="text metrics only")
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="normalize every prediction first (LaTeX written by other systems)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A", "B"), help="two result folders side by side"
    )
    parser.add_argument("--suite", choices=("robustness",), help="run a test suite with --model")
    parser.add_argument("--model", type=Path, metavar="DIR", help="model folder (--suite)")
    parser.add_argument("--limit", type=int, help="first N test items only (--suite)")
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.data.render import RenderError
    from im2markup.evaluation.report import metrics_table
    from im2markup.evaluation.scoring import RenderOptions

    render = RenderOptions(style=args.style, workers=args.workers, progress=not args.quiet)
    try:
        if args.compare:
            from im2markup.evaluation.evaluate import compare

            out = args.out or Path.cwd()
            disagreements = compare(*args.compare, out)
            print(f"{len(disagreements)} disagreements; wrote {out / 'compare.html'}")
            return 0
        if args.suite:
            from im2markup.evaluation.robustness import run_suite
            from im2markup.evaluation.splits import load_split

            if args.model is None:
                raise ValueError("--suite needs --model DIR")
            split = load_split(args.split) if args.split else None
            table, out = run_suite(
                args.model, args.out, limit=args.limit, render=render, split=split
            )
            print(f"{table}\n\nwrote {out}")
            return 0
        if args.predictions is None or not (args.split or args.gold):
            raise ValueError("give PREDICTIONS and --split or --gold (or --compare A B)")
        from im2markup.evaluation.evaluate import run_evaluation

        metrics, out = run_evaluation(
            args.predictions,
            split_name=args.split,
            gold=args.gold,
            images_dir=args.images,
            out_dir=args.out,
            images=not args.no_images,
            render=render,
            normalize=args.normalize,
        )
    except (ValueError, FileNotFoundError, RenderError) as error:
        print(f"im2markup evaluate: {error}", file=sys.stderr)
        return 2
    print(metrics_table([(metrics["split"], metrics)]))
    print(f"\n{metrics['n']} items in {metrics['seconds']} s; wrote {out}")
    return 0
