"""Calibrate the pseudo-label verifier on the validation set, where the truth is known.

(a) Every space-stripped validation formula is rendered in the `shared` style and checked
against its shared image (`k.png` of `images_val.tar`) by `im2markup.metrics.label_verifier.verify`:
the true label must pass. The paper's exact match is reported beside it.

(b) For `--corrupt` validation formulas whose true label passes, every near miss of
`near_misses.CORRUPTIONS` that applies is rendered and checked against the true image: an
accepted near miss is a false accept, unless its render is pixel for pixel our render of the
true label (an invisible difference such as `{ x }` against `x`, which no image can reveal).

A sweep over the two thresholds shows what each choice costs in true labels and buys in
rejected near misses.

    .venv/bin/python benchmarks/verifier_calibration.py --corrupt 3000
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.corpus.corpora import im2latex_split, tar_images
from im2markup.data.formula_images import render_formulas
from im2markup.metrics import label_verifier as verifier
from im2markup.metrics.image_match import compare_images
from im2markup.metrics.label_verifier import Verdict, verify
from im2markup.paths import cache_dir
from near_misses import CORRUPTIONS

PATCH_SWEEP = (4.0, 4.5, 5.0, 5.5, 6.0, 7.0)
LONE_SWEEP = (0.1, 0.5, 1.0, float("inf"))


@dataclass(frozen=True)
class Check:
    """One label checked against one image."""

    verdict: Verdict
    paper_match: bool


def check(image: np.ndarray, render: Image.Image | None) -> Check:
    paper = render is not None and compare_images(image, render).match
    return Check(verify(image, render), paper)


def passes(c: Check, patch: float, lone: float) -> bool:
    return c.verdict.patch_difference <= patch and c.verdict.lone_ink <= lone


def true_labels(args: argparse.Namespace) -> tuple[list[str], dict[int, np.ndarray], list]:
    """The nospace validation formulas, their shared images, and our renders of them."""
    val = im2latex_split("val", args.shared)
    count = len(val) if args.limit is None else min(args.limit, len(val))
    formulas = val.nospace[:count]
    images = {
        k: np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        for k, png in tar_images(val.images, set(range(count)))
    }
    renders = render_formulas(formulas, "shared", workers=args.workers, cache_dir=args.cache)
    return formulas, images, renders


def gold_report(checks: dict[int, Check], total: int) -> dict[str, object]:
    verdicts = [
        c.verdict for c in checks.values() if c.verdict.reason != "the label did not render"
    ]
    passed = sum(c.verdict.accepted for c in checks.values())
    paper = sum(c.paper_match for c in checks.values())
    differences = np.array(
        [v.patch_difference for v in verdicts if np.isfinite(v.patch_difference)]
    )
    reasons = Counter(
        (c.verdict.reason or "accepted").split(" by ")[0].split(" (")[0] for c in checks.values()
    )
    return {
        "formulas": total,
        "rendered": len(verdicts),
        "verified": passed,
        "verified_rate": round(100 * passed / total, 2),
        "verified_rate_of_rendered": round(100 * passed / max(len(verdicts), 1), 2),
        "paper_exact_match": paper,
        "paper_exact_match_rate": round(100 * paper / total, 2),
        "patch_difference_percentiles": {
            str(q): round(float(np.percentile(differences, q)), 2) for q in (50, 90, 95, 99)
        },
        "lone_ink_max_of_verified": max(
            (c.verdict.lone_ink for c in checks.values() if c.verdict.accepted), default=0.0
        ),
        "refusals": {reason: n for reason, n in reasons.most_common() if reason != "accepted"},
    }


@dataclass(frozen=True)
class NearMiss:
    """A corrupted label of validation formula `k` checked against the true image;
    `identical` says whether its render equals the true label's (None: it did not render)."""

    k: int
    corruption: str
    text: str
    identical: bool | None
    check: Check


def near_miss_checks(
    args: argparse.Namespace,
    formulas: list[str],
    images: dict[int, np.ndarray],
    renders: list,
    chosen: list[int],
) -> list[NearMiss]:
    """Every corruption that applies to each chosen formula, rendered and checked."""
    rng = np.random.default_rng(args.seed)
    items = []
    for k in chosen:
        tokens = formulas[k].split()
        for name, corrupt in CORRUPTIONS.items():
            changed = corrupt(tokens, rng)
            if changed is not None and changed != tokens:
                items.append((k, name, " ".join(changed)))
    results = render_formulas(
        [text for _, _, text in items], "shared", workers=args.workers, cache_dir=args.cache
    )
    out = []
    for (k, name, text), result in zip(items, results, strict=True):
        identical = None
        if result.image is not None:
            ours, truth = np.asarray(result.image), np.asarray(renders[k].image)
            identical = ours.shape == truth.shape and bool((ours == truth).all())
        out.append(NearMiss(k, name, text, identical, check(images[k], result.image)))
    return out


def near_miss_report(rows: list[NearMiss]) -> dict[str, dict[str, object]]:
    report = {}
    for name in CORRUPTIONS:
        mine = [row for row in rows if row.corruption == name]
        visible = [row.check for row in mine if row.identical is False]
        accepted = sum(c.verdict.accepted for c in visible)
        report[name] = {
            "made": len(mine),
            "not_rendered": sum(row.identical is None for row in mine),
            "pixel_identical": sum(row.identical is True for row in mine),
            "visible": len(visible),
            "false_accepts": accepted,
            "false_accept_rate": round(100 * accepted / max(len(visible), 1), 2),
            "paper_exact_match_accepts": sum(c.paper_match for c in visible),
        }
    return report


def false_accepts(rows: list[NearMiss], formulas: list[str]) -> list[dict[str, object]]:
    """The accepted visible near misses, with the true label beside each."""
    return [
        {"k": row.k, "corruption": row.corruption, "truth": formulas[row.k], "label": row.text}
        for row in rows
        if row.identical is False and row.check.verdict.accepted
    ]


def sweep(gold: dict[int, Check], rows: list[NearMiss], total: int) -> list[dict[str, float]]:
    """Gold pass rate and false-accept rate for other thresholds (over the same near misses)."""
    visible = [row.check for row in rows if row.identical is False]
    table = []
    for patch in PATCH_SWEEP:
        for lone in LONE_SWEEP:
            passed = sum(passes(c, patch, lone) for c in gold.values())
            accepted = sum(passes(c, patch, lone) for c in visible)
            table.append(
                {
                    "max_patch_difference": patch,
                    "max_lone_ink": lone,
                    "gold_rate": round(100 * passed / total, 2),
                    "false_accept_rate": round(100 * accepted / max(len(visible), 1), 3),
                }
            )
    return table


def print_tables(result: dict) -> None:
    gold = result["gold"]
    print(
        f"\n(a) true labels: {gold['verified']} of {gold['formulas']} verified "
        f"({gold['verified_rate']}%; {gold['verified_rate_of_rendered']}% of the "
        f"{gold['rendered']} that render); paper exact match {gold['paper_exact_match']} "
        f"({gold['paper_exact_match_rate']}%)"
    )
    print(f"refusals: {gold['refusals']}")
    print("\n(b) near misses\n")
    print(
        "| corruption | made | visible | pixel-identical | not rendered | false accepts "
        "| false-accept rate | paper exact match accepts |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, row in result["near_misses"].items():
        print(
            f"| {name} | {row['made']} | {row['visible']} | {row['pixel_identical']} | "
            f"{row['not_rendered']} | {row['false_accepts']} | {row['false_accept_rate']}% | "
            f"{row['paper_exact_match_accepts']} |"
        )
    print("\n| max patch difference | max lone ink | true labels verified | false accepts |")
    print("| --- | --- | --- | --- |")
    for row in result["sweep"]:
        print(
            f"| {row['max_patch_difference']} | {row['max_lone_ink']} | {row['gold_rate']}% | "
            f"{row['false_accept_rate']}% |"
        )
    print("\nfalse accepts:")
    for row in result["false_accepts"]:
        print(f"  {row['k']} {row['corruption']}: {row['truth']}\n    -> {row['label']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, help="shared data folder")
    parser.add_argument("--limit", type=int, help="first N validation formulas only")
    parser.add_argument("--corrupt", type=int, default=3000, help="formulas to corrupt")
    parser.add_argument("--seed", type=int, default=0, help="choice of formulas and changes")
    parser.add_argument("--workers", type=int, default=2, help="render batches at once")
    parser.add_argument("--cache", type=Path, default=cache_dir() / "renders")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    formulas, images, renders = true_labels(args)
    gold = {k: check(images[k], renders[k].image) for k in range(len(formulas)) if k in images}
    passed = [k for k, c in gold.items() if c.verdict.accepted]
    order = np.random.default_rng(args.seed).permutation(len(passed))
    chosen = sorted(passed[i] for i in order[: args.corrupt])
    rows = near_miss_checks(args, formulas, images, renders, chosen)
    result = {
        "rule": {
            "max_size_difference": verifier.MAX_SIZE_DIFFERENCE,
            "patch": verifier.PATCH,
            "max_patch_difference": verifier.MAX_PATCH_DIFFERENCE,
            "max_lone_ink": verifier.MAX_LONE_INK,
        },
        "gold": gold_report(gold, len(formulas)),
        "corrupted_formulas": len(chosen),
        "near_misses": near_miss_report(rows),
        "sweep": sweep(gold, rows, len(formulas)),
        "false_accepts": false_accepts(rows, formulas),
        "seconds": round(time.perf_counter() - start, 1),
        "command": sys.argv,
    }
    print_tables(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
