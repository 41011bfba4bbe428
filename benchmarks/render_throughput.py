"""Render throughput, and how closely the `shared` style reproduces the shared images.

Renders the IM2LATEX-100K validation (or test) formulas a few times without a cache and
reports formulas per second (processed images, the whole pipeline: checks, pdflatex,
Ghostscript, crop / pad / downsample) with the load average seen during each run. With
`--compare`, the images of the last run are compared with the shared images of the same
formulas under the paper's image metrics (binarized at 128, cropped to the ink): exact match,
exact match ignoring blank columns, and identical ink.

    .venv/bin/python benchmarks/render_throughput.py --style shared --runs 3 --compare
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.data.render import RenderResult
from im2markup.metrics.image_match import compare_images, ink_columns
from im2markup.paths import shared_data_dir


def read_formulas(split: str, style: str, limit: int | None) -> list[str]:
    """The split's formulas: the nospace form for the shared style (what its images show)."""
    form = "nospace" if style == "shared" else "norm"
    path = shared_data_dir() / "im2latex100k" / "formulas" / f"{split}.formulas.{form}.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines[:limit] if limit else lines


def timed_run(
    formulas: list[str], args: argparse.Namespace
) -> tuple[list[RenderResult], float, float]:
    """Results, wall seconds, and CPU seconds of this process and its TeX / Ghostscript runs."""
    start, cpu = time.perf_counter(), os.times()
    results = render_formulas(
        formulas,
        style=args.style,
        processed=True,
        workers=args.workers,
        batch_size=args.batch_size,
    )
    end = os.times()
    used = sum(end[i] - cpu[i] for i in range(4))  # user, system, children user / system
    return results, time.perf_counter() - start, used


def compare_with_shared(results: list[RenderResult], split: str) -> dict[str, int]:
    """Counts of matches between our renders and the shared images `k.png`."""
    counts = {"compared": 0, "match": 0, "match_nows": 0, "identical_ink": 0, "not_rendered": 0}
    wanted = {str(r.index): r for r in results}
    with tarfile.open(shared_data_dir() / "im2latex100k" / f"images_{split}.tar") as tar:
        for member in tar:
            name = Path(member.name).name
            result = wanted.get(name.removesuffix(".png"))
            if result is None or not member.isfile():
                continue
            if result.image is None:
                counts["not_rendered"] += 1
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            gold = Image.open(io.BytesIO(handle.read())).convert("L")
            comparison = compare_images(gold, result.image)
            counts["compared"] += 1
            counts["match"] += comparison.match
            counts["match_nows"] += comparison.match_nows
            gold_ink, our_ink = ink_columns(gold), ink_columns(result.image)
            counts["identical_ink"] += bool(
                gold_ink.shape == our_ink.shape and np.array_equal(gold_ink, our_ink)
            )
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--style", default="shared")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--limit", type=int, default=None, help="only the first N formulas")
    parser.add_argument("--compare", action="store_true", help="compare with the shared images")
    args = parser.parse_args(argv)

    formulas = read_formulas(args.split, args.style, args.limit)
    print(f"{len(formulas)} {args.split} formulas, style {args.style}, cpus {os.cpu_count()}")
    rates, cpu_ms = [], []
    results: list[RenderResult] = []
    for run in range(args.runs):
        load_before = os.getloadavg()[0]
        results, seconds, cpu = timed_run(formulas, args)
        rates.append(len(formulas) / seconds)
        cpu_ms.append(1000 * cpu / len(formulas))
        failed = sum(r.image is None for r in results)
        print(
            f"run {run + 1}: {seconds:.1f} s, {rates[-1]:.0f} formulas/s, "
            f"{cpu_ms[-1]:.2f} CPU ms/formula, {failed} failed, "
            f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
    cpu = statistics.median(cpu_ms)
    print(f"median: {statistics.median(rates):.0f} formulas/s, {cpu:.2f} CPU ms/formula")
    print(f"CPU bound for {args.workers} idle cores: {1000 * args.workers / cpu:.0f} formulas/s")
    reasons = Counter(r.error.split(" at '")[0] for r in results if r.error is not None)
    for reason, count in reasons.most_common(8):
        print(f"  failed {count}×: {reason}")

    if args.compare:
        counts = compare_with_shared(results, args.split)
        total = len(formulas)
        print(f"not rendered: {counts['not_rendered']} of {total}")
        for key in ("match", "match_nows", "identical_ink"):
            print(
                f"{key}: {counts[key]} = {100 * counts[key] / total:.2f}% of all, "
                f"{100 * counts[key] / max(1, counts['compared']):.2f}% of the rendered"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
