"""How faithful and how fast the normalizer is, on the shared data.

* idempotence: normalize(x) == x over the 17,918 IM2LATEX-100K test + validation formulas
  (the paper's normalizer wrote them), with the misses sorted into classes;
* speed: seconds to normalize those 17,918 formulas (best of three);
* agreement with the paper's normalizer: raw arXiv hep-th formulas whose normal form matches
  a test/validation formula once braces and spaces are ignored, and how many match exactly;
* with `--render`: raw Wikipedia formulas against their normal form, rendered in the paper's
  style; exact match after dropping blank columns (the paper's tolerant −ws metric) and
  pixel equality after dropping blank columns.

    .venv/bin/python benchmarks/normalizer_quality.py [--render]
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

import numpy as np

from im2markup.latex.normalizer import normalize
from im2markup.paths import shared_data_dir

MISS_CLASSES = {
    "\\nonumber dropped": r"\\nonumber",
    "`[object Object]` bug of the paper's tool": r"\[object",
    "\\label dropped": r"\\label",
    "text command written as a math font": r"\\(textrm|textup|textnormal|textbf|textit|emph)\b",
}


def idempotence(lines: list[str]) -> None:
    misses: Counter[str] = Counter()
    for line in lines:
        if normalize(line).text != line:
            kind = next((k for k, p in MISS_CLASSES.items() if re.search(p, line)), "other")
            misses[kind] += 1
    same = len(lines) - sum(misses.values())
    print(f"idempotent: {same} / {len(lines)} = {same / len(lines):.2%}")
    for kind, count in misses.most_common():
        print(f"  {count:4d}  {kind}")
    best = min(_timed(lines) for _ in range(3))
    print(f"speed: {len(lines)} formulas in {best:.2f} s ({len(lines) / best:.0f}/s)")


def _timed(lines: list[str]) -> float:
    start = time.perf_counter()
    for line in lines:
        normalize(line)
    return time.perf_counter() - start


def agreement(lines: list[str], raw: list[str]) -> None:
    def key(text: str) -> str:
        return re.sub(r"[\s{}]", "", text)

    paper = {key(line): line for line in lines}
    found = same = 0
    for formula in raw:
        result = normalize(formula)
        if result.ok and key(result.text) in paper:
            found += 1
            same += paper[key(result.text)] == result.text
    print(f"agreement with the paper's normalizer: {same} / {found} = {same / found:.2%}")


def render(raw: list[str]) -> None:
    from im2markup.data.formula_images import render_formulas
    from im2markup.metrics.image_match import compare_images

    results = [normalize(formula) for formula in raw]
    pairs = [(f, r.text) for f, r in zip(raw, results, strict=True) if r.ok]
    start = time.perf_counter()
    images = render_formulas([f for f, _ in pairs] + [n for _, n in pairs], style="paper")
    seconds = time.perf_counter() - start
    originals, rewritten = images[: len(pairs)], images[len(pairs) :]
    compiled = [(a.image, b.image) for a, b in zip(originals, rewritten, strict=True) if a.ok]
    match = sum(b is not None and compare_images(a, b).match_nows for a, b in compiled)
    equal = sum(b is not None and _ink_equal(a, b) for a, b in compiled)
    print(f"render: {len(raw)} raw, {len(pairs)} parse, {len(compiled)} compile ({seconds:.0f} s)")
    print(f"  exact match -ws: {match} = {match / len(compiled):.2%}")
    print(f"  pixel-equal without blank columns: {equal} = {equal / len(compiled):.2%}")


def _ink_equal(a, b) -> bool:
    def ink(image) -> np.ndarray:
        pixels = np.asarray(image) <= 128
        pixels = pixels[:, pixels.any(axis=0)]
        rows = np.flatnonzero(pixels.any(axis=1))
        return pixels[rows[0] : rows[-1] + 1] if rows.size else pixels

    x, y = ink(a), ink(b)
    return x.shape == y.shape and bool((x == y).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--render", action="store_true", help="also render Wikipedia formulas")
    args = parser.parse_args()
    shared = shared_data_dir()
    lines = []
    for split in ("test", "val"):
        path = shared / "im2latex100k" / "formulas" / f"{split}.formulas.norm.txt"
        lines += path.read_text(encoding="utf-8").splitlines()
    idempotence(lines)
    hepth = (shared / "corpora" / "arxiv_hepth_kddcup.txt").read_text(encoding="utf-8")
    agreement(lines, hepth.splitlines())
    if args.render:
        wikipedia = (shared / "corpora" / "wikipedia_math.txt").read_text(encoding="utf-8")
        render(wikipedia.splitlines())


if __name__ == "__main__":
    main()
