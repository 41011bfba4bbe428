"""`im2markup evaluate`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("evaluate", help="(not yet available)")


def run(args: argparse.Namespace) -> int:
    raise SystemExit("im2markup evaluate is not available yet")
