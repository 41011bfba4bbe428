"""Latency of one prediction over test formulas of every length, cropped and as full pages.

The first `--n` IM2LATEX-100K test formulas are typeset as the dataset typeset them (paper
style, 200 dpi) and read by `Predictor.predict` one at a time at the default settings (beam 5,
the scale search, int8 weights where the CPU has them) with `--threads` PyTorch threads: each
once cropped to its ink and once on its 1654×2339 page, crop and page alternating so both
see the same machine. The bundled model unless `--model`. Writes `summary.json`, the gold
formulas as `gold.txt` and, for each form, `predictions-<form>.txt` (line k: the LaTeX read
for test formula k, empty where it did not render), which `evaluate` scores by image match:

    .venv/bin/python benchmarks/tail_latency.py --threads 2 --out /tmp/tail
    .venv/bin/im2markup evaluate --gold /tmp/tail/gold.txt --style paper \\
        --out /tmp/tail/eval-crop /tmp/tail/predictions-crop.txt
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path

from PIL import Image

from im2markup.data.formula_images import render_formulas
from im2markup.paths import shared_data_dir
from im2markup.serving.predictor import load_model

PAGE_SIZE = (1654, 2339)
# Where the paper template's display sits on its page at 200 dpi: top margin and indent.
PAGE_TOP = 300


def on_page(crop: Image.Image) -> Image.Image:
    """`crop` centred on a white 200-dpi page, near the top as the template puts it."""
    page = Image.new("L", PAGE_SIZE, 255)
    page.paste(crop, (max(0, (PAGE_SIZE[0] - crop.width) // 2), PAGE_TOP))
    return page


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Median, 90th percentile, maximum and mean of `seconds`, rounded to milliseconds."""
    ordered = sorted(seconds)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p90": round(statistics.quantiles(ordered, n=10, method="inclusive")[-1], 3),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.mean(ordered), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: bundled)")
    parser.add_argument("--n", type=int, default=200, help="first N test formulas")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = shared_data_dir() / "im2latex100k" / "formulas"
    formulas = (root / "test.formulas.norm.txt").read_text().splitlines()[: args.n]
    renders = render_formulas(formulas, style="paper", processed=False)
    predictor = load_model(args.model, threads=args.threads)
    first = next(r.image for r in renders if r.image is not None)
    predictor.predict(first)
    predictor.predict(on_page(first))
    forms = ("crop", "page")
    latex = {form: [""] * len(formulas) for form in forms}
    seconds: dict[str, list[float]] = {form: [] for form in forms}
    ratios = []
    for k, render in enumerate(renders):
        if render.image is None:
            continue
        for form, image in (("crop", render.image), ("page", on_page(render.image))):
            start = time.perf_counter()
            latex[form][k] = predictor.predict(image).latex
            seconds[form].append(time.perf_counter() - start)
        ratios.append(seconds["page"][-1] / seconds["crop"][-1])
    (args.out / "gold.txt").write_text("\n".join(formulas) + "\n")
    for form in forms:
        (args.out / f"predictions-{form}.txt").write_text("\n".join(latex[form]) + "\n")
    summary = {
        "model": str(args.model or "bundled"),
        "formulas": len(formulas),
        "read": len(seconds["crop"]),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "seconds": {form: percentiles(seconds[form]) for form in forms},
        "page_over_crop": {
            "median": round(statistics.median(ratios), 3),
            "p90": round(statistics.quantiles(ratios, n=10, method="inclusive")[-1], 3),
            "of_p50": round(
                statistics.median(seconds["page"]) / statistics.median(seconds["crop"]), 3
            ),
            "of_p90": round(
                statistics.quantiles(seconds["page"], n=10, method="inclusive")[-1]
                / statistics.quantiles(seconds["crop"], n=10, method="inclusive")[-1],
                3,
            ),
        },
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
