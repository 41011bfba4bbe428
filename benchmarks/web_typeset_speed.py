"""Speed of the web-typeset renders: formulas per second for each robustness condition's style.

Each run starts a browser, loads the style's page and renders the first `--limit` test
formulas (what one robustness condition costs); the rate is given with and without the
browser's start. Median of `--runs` runs, with the load average seen during them.

    .venv/bin/python benchmarks/web_typeset_speed.py --limit 200 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from im2markup.data.render.web import WebStyle, WebTypesetter
from im2markup.evaluation.robustness import WEB
from im2markup.paths import shared_data_dir


def timed_run(formulas: list[str], style: WebStyle) -> tuple[float, float, int]:
    """Seconds with the browser's start, seconds once it runs (page load included), and
    formulas rendered."""
    start = time.perf_counter()
    with WebTypesetter() as typesetter:
        started = time.perf_counter()
        results = typesetter.render(formulas, style)
        end = time.perf_counter()
    return end - start, end - started, sum(result.ok for result in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="first N test formulas")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = shared_data_dir() / "im2latex100k" / "formulas" / "test.formulas.norm.txt"
    formulas = path.read_text(encoding="utf-8").splitlines()[: args.limit]
    print(f"{len(formulas)} test formulas, median of {args.runs} runs\n")
    print("| condition | rendered | formulas/s | browser already running | load average |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, style in WEB.items():
        runs = [timed_run(formulas, style) for _ in range(args.runs)]
        whole = statistics.median(len(formulas) / run[0] for run in runs)
        warm = statistics.median(len(formulas) / run[1] for run in runs)
        rendered = sorted({run[2] for run in runs})
        load = os.getloadavg()[0]
        print(
            f"| {name} | {'/'.join(map(str, rendered))} | {whole:.1f} | {warm:.1f} | {load:.2f} |"
        )


if __name__ == "__main__":
    main()
