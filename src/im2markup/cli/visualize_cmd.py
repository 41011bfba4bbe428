"""`im2markup visualize`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("visualize", help="(not yet available)")


def run(args: argparse.Namespace) -> int:
    raise SystemExit("im2markup visualize is not available yet")
