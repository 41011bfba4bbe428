"""Entry point of the `im2markup` command.

Each sub-command lives in its own module exposing `add_parser(subparsers)` and `run(args) -> int`;
heavy imports (PyTorch, FastAPI) happen inside `run` so that `im2markup normalize` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from im2markup import __version__

COMMANDS = ("normalize", "render", "data", "train", "predict", "evaluate", "visualize", "serve")


def build_parser() -> argparse.ArgumentParser:
    """The command line with every sub-command's options (each module adds its own)."""
    parser = argparse.ArgumentParser(
        prog="im2markup",
        description="Turn images of mathematical formulas into LaTeX.",
    )
    parser.add_argument("--version", action="version", version=f"im2markup {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"im2markup.cli.{name}_cmd")
        command_parser = module.add_parser(sub)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` and run the chosen sub-command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
