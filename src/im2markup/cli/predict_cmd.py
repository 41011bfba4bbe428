"""`im2markup predict`: the LaTeX of image files, one line per image."""

from __future__ import annotations

import argparse

from im2markup.cli.arguments import positive_int
from im2markup.inference.defaults import BATCH_SIZE


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "predict",
        help="write the LaTeX of formula images",
        description=(
            "Read images of formulas (files, directories, glob patterns, or - for standard "
            "input) and print one line of LaTeX per image; with several images each line is "
            "NAME<TAB>LATEX. Unreadable images are reported on stderr and skipped. Exit status: "
            "0 when at least one image was read, 1 when none was, 2 for a bad model or set-up."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="file, directory, glob or -")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--tokens", action="store_true", help="print the normalized tokens instead")
    form.add_argument(
        "--json",
        action="store_true",
        help='print JSON lines {"image", "latex", "tokens", "score", "seconds"} '
        '(+ "verified" with --verify or --refine, "error" for an image that could not be read)',
    )
    parser.add_argument(
        "--beam", type=positive_int, metavar="N", help="beam size (default: the model's, 5)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: bundled)")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="render the beam's candidates and keep the one that looks most like the image",
    )
    parser.add_argument(
        "--refine",
        action="store_true",
        help="as --verify, then also render close variants of the best reading (spacing, "
        "look-alike spellings) and keep any whose render is closer to the image (slower)",
    )
    parser.add_argument(
        "--single-scale",
        action="store_true",
        help="decode once, at the estimated scale (about 4× faster; worse on images that are "
        "not at the training scale)",
    )
    parser.add_argument(
        "--fp32",
        action="store_true",
        help="decode in float32 (on a CPU the default is int8 recurrent and linear weights "
        "and, where the CPU has bf16, bf16 convolutions: about twice as fast)",
    )
    parser.add_argument(
        "--crohme",
        action="store_true",
        help="write only CROHME's handwriting symbols (for handwritten formulas like CROHME's)",
    )
    parser.add_argument(
        "--handwritten",
        action="store_true",
        help="handwritten formulas: the bundled handwriting model (or --model), CROHME's symbols",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=BATCH_SIZE,
        metavar="N",
        help="images decoded together",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="PyTorch CPU threads (default 1: fastest for decoding on a busy machine)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.serving.batch import predict_command

    return predict_command(
        args.images,
        model=args.model,
        device=args.device,
        threads=args.threads,
        batch_size=args.batch_size,
        output="json" if args.json else "tokens" if args.tokens else "latex",
        beam_size=args.beam,
        verify=args.verify,
        refine=args.refine,
        crohme=args.crohme,
        handwritten=args.handwritten,
        single_scale=args.single_scale,
        fp32=args.fp32,
    )
