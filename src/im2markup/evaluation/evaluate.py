"""`im2markup evaluate`: a predictions file against a split, and two result sets side by side."""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path

from im2markup.evaluation.predictions import load_predictions
from im2markup.evaluation.report import (
    FILES_DIR,
    metrics_html,
    metrics_table,
    page_rows,
    status,
    write_results,
)
from im2markup.evaluation.report_page import page
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.splits import Split, load_split, split_from_file
from im2markup.paths import cache_dir


def evaluate(
    predictions: Path,
    split: Split,
    out_dir: Path,
    *,
    images: bool = True,
    render: RenderOptions | None = None,
    normalize: bool = False,
) -> dict:
    """Score `predictions` against `split`, write the results into `out_dir`, return metrics.

    `normalize` normalizes every prediction first (LaTeX from other systems).
    """
    start = time.perf_counter()
    loaded = load_predictions(predictions, split.names, normalize_all=normalize)
    metrics, items = score_predictions(
        split,
        loaded.tokens,
        images=images,
        render=render,
        files_dir=out_dir / FILES_DIR if images else None,
    )
    metrics["predictions"] = str(predictions)
    metrics["n_prediction_problems"] = len(loaded.problems)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    write_results(out_dir, metrics, items, loaded.problems)
    return metrics


def run_evaluation(
    predictions: Path,
    *,
    split_name: str | None = None,
    gold: Path | None = None,
    images_dir: Path | None = None,
    out_dir: Path | None = None,
    images: bool = True,
    render: RenderOptions | None = None,
    normalize: bool = False,
) -> tuple[dict, Path]:
    """`im2markup evaluate`: resolve the split and output folder, evaluate; (metrics, folder).

    The output folder defaults to `<cache>/evaluations/<split>-<predictions stem>`.
    """
    if (split_name is None) == (gold is None):
        raise ValueError("give exactly one of a split name and a gold formula file")
    if images_dir is not None and gold is None:
        raise ValueError("an images folder goes with a gold formula file; a split has its own")
    render = render or RenderOptions()
    if gold is not None:
        split = split_from_file(gold, images_dir, render.style or "paper")
    else:
        split = load_split(split_name)
    if not predictions.is_file():
        raise FileNotFoundError(f"predictions file {predictions} does not exist")
    out_dir = out_dir or cache_dir() / "evaluations" / f"{split.name}-{predictions.stem}"
    metrics = evaluate(
        predictions, split, out_dir, images=images, render=render, normalize=normalize
    )
    return metrics, out_dir


def load_results(result_dir: Path) -> tuple[dict, list[dict]]:
    """The metrics and per-item records an evaluation wrote into `result_dir`."""
    metrics_path = result_dir / "metrics.json"
    items_path = result_dir / "items.jsonl"
    for path in (metrics_path, items_path):
        if not path.is_file():
            raise FileNotFoundError(f"{result_dir} is not an evaluation result: no {path.name}")
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    with items_path.open(encoding="utf-8") as lines:
        items = [json.loads(line) for line in lines if line.strip()]
    return metrics, items


def compare(dir_a: Path, dir_b: Path, out_dir: Path) -> list[dict]:
    """Put two evaluations of the same split side by side; returns the items they disagree on.

    Writes `compare.md` (both metric rows) and `compare.html` (metrics and, for every item one
    got right and the other wrong, both predictions with their pictures).
    """
    metrics_a, items_a = load_results(dir_a)
    metrics_b, items_b = load_results(dir_b)
    if [i["gold"] for i in items_a] != [i["gold"] for i in items_b]:
        raise ValueError(f"{dir_a} and {dir_b} were evaluated on different gold formulas")
    label_a, label_b = f"A: {dir_a.name}", f"B: {dir_b.name}"
    rows = [(label_a, metrics_a), (label_b, metrics_b)]
    disagreements = [
        {"index": a["index"], "a": a, "b": b}
        for a, b in zip(items_a, items_b, strict=True)
        if (status(a) == "correct") != (status(b) == "correct")
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    only_a = sum(status(d["a"]) == "correct" for d in disagreements)
    summary = (
        f"{len(disagreements)} items where one is correct and the other not: "
        f"{only_a} only A, {len(disagreements) - only_a} only B."
    )
    (out_dir / "compare.md").write_text(
        f"# {label_a} vs {label_b}\n\n{metrics_table(rows)}\n\n{summary}\n", encoding="utf-8"
    )
    side = [_tagged(d["a"], "A", dir_a, out_dir) for d in disagreements] + [
        _tagged(d["b"], "B", dir_b, out_dir) for d in disagreements
    ]
    side.sort(key=lambda row: (row["i"], row["n"]))
    body = f"{metrics_html(rows)}<p>{html.escape(summary)}</p><h2>Disagreements</h2>"
    (out_dir / "compare.html").write_text(
        page(f"{label_a} vs {label_b}", body, side, "."), encoding="utf-8"
    )
    return disagreements


def _tagged(item: dict, tag: str, result_dir: Path, out_dir: Path) -> dict:
    """A page row for one side of a comparison, its pictures linked from `out_dir`."""
    row = page_rows([item])[0]
    row["n"] = f"{tag}: {row['n']}"
    files_dir = os.path.relpath(result_dir / FILES_DIR, out_dir)
    row["f"] = {kind: f"{files_dir}/{name}" for kind, name in row["f"].items()}
    return row
