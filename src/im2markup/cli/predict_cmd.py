"""`im2markup predict`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("predict", help="(not yet available)")


def run(args: argparse.Namespace) -> int:
    raise SystemExit("im2markup predict is not available yet")
