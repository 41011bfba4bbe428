"""`im2markup normalize [FILE]`: one LaTeX formula per line → its normalized token form."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from typing import TextIO


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "normalize",
        help="normalize LaTeX formulas (one per line) to the paper's token form",
        description=(
            "Read one formula per line and write its normalized, space-separated token form on "
            "the same line number. A line that cannot be parsed gives an empty output line and "
            "'line N: reason' on stderr."
        ),
    )
    parser.add_argument(
        "file", nargs="?", default="-", help="input file (default: standard input, also '-')"
    )
    parser.add_argument(
        "--detokenize",
        action="store_true",
        help="write compact LaTeX (x_{i}^{2}, \\sin) instead of the token form",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any line failed"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from im2markup.latex.normalizer import normalize_stream

    try:
        opened = _open_input(args.file)
    except OSError as error:
        print(f"im2markup normalize: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    with opened as source:
        failures = normalize_stream(source, sys.stdout, sys.stderr, compact=args.detokenize)
    return 1 if args.strict and failures else 0


def _open_input(name: str) -> contextlib.AbstractContextManager[TextIO]:
    """The named file or standard input, read as UTF-8 with undecodable bytes replaced."""
    if name != "-":
        return open(name, encoding="utf-8", errors="replace")
    if hasattr(sys.stdin, "buffer"):
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return contextlib.nullcontext(sys.stdin)
