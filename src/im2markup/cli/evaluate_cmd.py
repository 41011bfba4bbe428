"""`im2markup evaluate`: the paper's metrics for a predictions file, a comparison, or a suite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from im2markup.cli.arguments import positive_int
from im2markup.inference.defaults import BATCH_SIZE

if TYPE_CHECKING:
    from im2markup.evaluation.scoring import RenderOptions

SPLIT_NAMES = ("test", "test-shared", "val", "crohme2014")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "evaluate",
        help="BLEU, edit distances and image match of predictions, with an HTML report",
        description=(
            "Score PREDICTIONS (one per line, line k = item k, or `im2markup predict --json` "
            "output) against a split as the paper does, rendering gold and predictions alike; "
            "or, with --model DIR --split NAME, decode the split's input images with the model "
            "first (resumable: predictions.jsonl is appended as it goes). "
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
    parser.add_argument(
        "--table",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="folders of --model evaluations of one split: the paper's results table "
        "(with attention cost and speed), each row beside the paper's published one",
    )
    parser.add_argument("--suite", choices=("robustness",), help="run a test suite with --model")
    parser.add_argument(
        "--conditions",
        nargs="+",
        metavar="NAME",
        help="with --suite: only these conditions (e.g. 'noise σ20'; default all)",
    )
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="model folder: decode --split with it, or --suite"
    )
    parser.add_argument("--limit", type=positive_int, help="first N items of the split only")
    decoding = parser.add_argument_group("decoding with --model")
    decoding.add_argument(
        "--beam", type=positive_int, help="beam size (1 = greedy; default: the model's, 5)"
    )
    decoding.add_argument(
        "--batch-size",
        type=positive_int,
        default=BATCH_SIZE,
        metavar="N",
        help="images decoded together",
    )
    decoding.add_argument(
        "--threads", type=positive_int, default=1, metavar="N", help="PyTorch CPU threads"
    )
    decoding.add_argument(
        "--max-len", type=positive_int, metavar="N", help="longest output (default: the model's)"
    )
    decoding.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    decoding.add_argument(
        "--int8",
        action="store_true",
        help="int8 recurrent and linear weights (and bf16 convolutions where the CPU has bf16) "
        "on a CPU, as `im2markup predict` decodes "
        "(activations are quantized per batch: --batch-size 1 reads each image as it does)",
    )
    decoding.add_argument(
        "--dataset",
        default="im2latex-v1",
        metavar="NAME",
        help="built dataset holding the input images (default im2latex-v1); "
        "without it the split's own loader renders or reads them",
    )
    decoding.add_argument(
        "--form",
        choices=("paper", "shared"),
        help="val only: just its paper renders or just its shared images (default both rows)",
    )
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
        if args.table:
            from im2markup.evaluation.results_table import results_table

            print(results_table(args.table))
            return 0
        if args.suite:
            from im2markup.evaluation.robustness import run_suite
            from im2markup.evaluation.splits import load_split

            if args.model is None:
                raise ValueError("--suite needs --model DIR")
            split = load_split(args.split) if args.split else None
            table, out = run_suite(
                args.model,
                args.out,
                limit=args.limit,
                render=render,
                split=split,
                transforms=args.conditions,
                beam_size=args.beam,
                device=args.device,
                threads=args.threads,
            )
            print(f"{table}\n\nwrote {out}")
            return 0
        if args.model is not None and args.predictions is None:
            return _evaluate_model(args, render)
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


def _evaluate_model(args: argparse.Namespace, render: RenderOptions) -> int:
    """Decode `--split` with `--model` and score it (the results table's rows)."""
    from im2markup.evaluation.model_eval import ModelEvalOptions, evaluate_model, model_table

    if args.split is None:
        raise ValueError("--model needs --split NAME (or PREDICTIONS, or --suite)")
    if args.form is not None and args.split != "val":
        raise ValueError("--form applies to --split val only")
    options = ModelEvalOptions(
        beam_size=args.beam,
        batch_size=args.batch_size,
        max_len=args.max_len,
        threads=args.threads,
        device=args.device,
        int8=args.int8,
        limit=args.limit,
        forms=(args.form,) if args.form else None,
        dataset=args.dataset,
        images=not args.no_images,
        render=render,
    )
    rows, out = evaluate_model(args.model, args.split, args.out, options)
    print(model_table(rows))
    counts = ", ".join(f"{label}: {metrics['n']} items" for label, metrics in rows)
    print(f"\n{counts}; wrote {out}")
    return 0
