"""`im2markup visualize`: the attention behind each token a model writes for an image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "visualize",
        help="draw the model's attention for every generated token",
        description=(
            "Read IMAGE with a model and write IMAGE.attention.png (one heat-map tile per token, "
            "coarse cells outlined for coarse-to-fine models) and IMAGE.attention.html "
            "(hover a token to see its attention)."
        ),
    )
    parser.add_argument("image", type=Path, metavar="IMAGE")
    parser.add_argument("--model", type=Path, metavar="DIR", help="model folder (default: bundled)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--beam", type=int, help="beam size (default: the model's, 5)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.data.images.user_images import ImageInputError
    from im2markup.evaluation.visualize import visualize

    try:
        result = visualize(
            args.image, args.model, args.out, beam_size=args.beam, device=args.device
        )
    except (ValueError, OSError, ImageInputError) as error:
        print(f"im2markup visualize: {error}", file=sys.stderr)
        return 2
    print(" ".join(result.tokens))
    print(f"wrote {result.strip} and {result.page}")
    return 0
