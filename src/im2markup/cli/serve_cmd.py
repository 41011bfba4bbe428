"""`im2markup serve`."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("serve", help="(not yet available)")


def run(args: argparse.Namespace) -> int:
    raise SystemExit("im2markup serve is not available yet")
