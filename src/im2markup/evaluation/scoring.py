"""Scoring predictions against a split: text metrics on tokens, image metrics on renders.

Gold formulas and predictions are rendered by the same renderer in the split's style, at full
resolution (200 dpi, cropped to the ink, not downsampled), which is what the authors' script
compares; in chunks, so that memory stays flat over 10,000 items. Renders are cached under
`<cache>/renders`, so evaluating a second model on the same split only renders its predictions.

A missing, empty or unrenderable prediction is scored as no match with the gold's whole width as
edit distance (`n_render_failed_pred` counts the unrenderable ones among the scored items).
Items whose gold does not render are left out of the image metrics (the authors' script iterates
over the rendered gold images) and counted in `n_render_failed_gold`; this does not depend on
the predictions, so it cannot be used to raise a score.

A CROHME split is also scored as CROHME scores: each prediction, turned into CROHME tokens, is
compared with the gold caption for the expression rates (exact, at most one or two token
errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from im2markup.data.handwriting.crohme import from_normalized
from im2markup.data.handwriting.crohme_metrics import expression_rates
from im2markup.data.images.preprocess import process_rendered
from im2markup.evaluation.image_diff import diff_overlay
from im2markup.evaluation.splits import Split
from im2markup.metrics.image_match import ImageComparison, aggregate, compare_images
from im2markup.metrics.text import (
    corpus_bleu,
    edit_distance_score,
    token_edit_distance,
    token_match_rate,
)
from im2markup.paths import cache_dir

CHUNK = 250
IMAGE_KEYS = ("image_edit_distance", "image_match", "image_match_nows", "image_match_script")
COUNT_KEYS = ("n_images", "n_render_failed_gold", "n_render_failed_pred")


@dataclass(frozen=True)
class RenderOptions:
    """How gold and predictions are rendered (`style` None = the split's own)."""

    style: str | None = None
    workers: int = 2
    progress: bool = True


def score_predictions(
    split: Split,
    predictions: Sequence[list[str] | None],
    *,
    images: bool = True,
    render: RenderOptions | None = None,
    files_dir: Path | None = None,
) -> tuple[dict, list[dict]]:
    """Corpus metrics (flat dict, percentages) and one record per item.

    With `files_dir`, the images a report shows are written there: every item's input image
    (else its gold render) and, for items whose image does not match, the prediction's render
    and the difference overlay.
    """
    if len(predictions) != len(split):
        raise ValueError(f"{len(predictions)} predictions for {len(split)} items of {split.name}")
    render = render or RenderOptions()
    golds = [gold.split() for gold in split.golds]
    preds = [tokens if tokens is not None else [] for tokens in predictions]
    items = [_text_record(k, split, predictions[k], golds[k]) for k in range(len(split))]
    metrics: dict = {
        "split": split.name,
        "style": render.style or split.style,
        "n": len(split),
        "bleu": corpus_bleu(preds, golds),
        "edit_distance": edit_distance_score(preds, golds),
        "token_match": token_match_rate(preds, golds),
        "n_missing_pred": sum(p is None for p in predictions),
        "n_empty_pred": sum(p is not None and not p for p in predictions),
    }
    if split.crohme_golds is not None:
        rates = expression_rates([from_normalized(p) for p in preds], split.crohme_golds)
        metrics["expression_rate"] = rates.exact
        metrics["expression_rate_le1"] = rates.within_1
        metrics["expression_rate_le2"] = rates.within_2
    if images:
        metrics.update(_image_metrics(split, items, render, files_dir))
    else:
        metrics.update(dict.fromkeys(IMAGE_KEYS + COUNT_KEYS))
    return metrics, items


def _text_record(k: int, split: Split, pred: list[str] | None, gold: list[str]) -> dict:
    tokens = pred or []
    return {
        "index": k,
        "name": split.names[k],
        "gold": " ".join(gold),
        "pred": None if pred is None else " ".join(pred),
        "edit": token_edit_distance(tokens, gold),
        "max_len": max(len(tokens), len(gold)),
        "token_match": tokens == gold,
        "image_match": None,
    }


def _image_metrics(
    split: Split, items: list[dict], render: RenderOptions, files_dir: Path | None
) -> dict:
    style = render.style or split.style
    comparisons: list[ImageComparison] = []
    failed_gold = failed_pred = 0
    if files_dir is not None:
        files_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(items), unit="item", desc=f"render {style}", disable=not render.progress)
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        to_render = [item["gold"] for item in chunk] + [item["pred"] or "" for item in chunk]
        pending = [k for k, text in enumerate(to_render) if text.strip()]
        results = _render([to_render[k] for k in pending], style, render.workers, processed=False)
        rendered: dict[int, tuple[Image.Image | None, str | None]] = {
            k: (result.image, result.error) for k, result in zip(pending, results, strict=True)
        }
        for offset, item in enumerate(chunk):
            gold, gold_error = rendered.get(offset, (None, "empty gold formula"))
            pred, pred_error = rendered.get(offset + len(chunk), (None, _why_no_pred(item)))
            item["gold_error"], item["pred_error"] = gold_error, pred_error
            if gold is None:
                failed_gold += 1
            else:
                failed_pred += pred is None and offset + len(chunk) in rendered
                comparison = compare_images(gold, pred)
                comparisons.append(comparison)
                item.update(_comparison_fields(comparison))
            if files_dir is not None:
                item["files"] = _write_files(files_dir, split, item, gold, pred)
        bar.update(len(chunk))
    bar.close()
    fields = {
        "n_images": len(comparisons),
        "n_render_failed_gold": failed_gold,
        "n_render_failed_pred": failed_pred,
    }
    if not comparisons:
        return fields | dict.fromkeys(IMAGE_KEYS)
    scores = aggregate(comparisons)
    return fields | {
        "image_edit_distance": scores.image_edit_distance,
        "image_match": scores.image_match,
        "image_match_nows": scores.image_match_nows,
        "image_match_script": scores.image_match_script,
    }


def _why_no_pred(item: dict) -> str:
    return "missing prediction" if item["pred"] is None else "empty prediction"


def _comparison_fields(comparison: ImageComparison) -> dict:
    return {
        "image_distance": comparison.distance,
        "image_length": comparison.length,
        "image_match": comparison.match,
        "image_match_nows": comparison.match_nows,
        "image_match_script": comparison.match_script,
    }


def _write_files(
    files_dir: Path, split: Split, item: dict, gold: Image.Image | None, pred: Image.Image | None
) -> dict[str, str]:
    """Save the report's pictures of one item; returns their names relative to `files_dir`."""
    k = item["index"]
    files: dict[str, str] = {}
    source = split.input_image(k) or (process_rendered(gold) if gold is not None else None)
    if source is not None:
        files["input"] = f"{k}.in.png"
        source.save(files_dir / files["input"], optimize=True)
    if item["image_match"]:
        return files
    if pred is not None:
        files["pred"] = f"{k}.pred.png"
        process_rendered(pred).save(files_dir / files["pred"], optimize=True)
    if gold is not None:
        files["diff"] = f"{k}.diff.png"
        diff_overlay(gold, pred).save(files_dir / files["diff"], optimize=True)
    return files


def render_images(formulas: list[str], style: str, workers: int = 2) -> list[Image.Image | None]:
    """Processed renders of `formulas` (None where one failed), as the model's inputs look."""
    return [result.image for result in _render(formulas, style, workers, processed=True)]


def _render(formulas: list[str], style: str, workers: int, *, processed: bool) -> list:
    """Render with the project's renderer; one result (image or error) per formula, in order."""
    from im2markup.data.formula_images import render_formulas

    if not formulas:
        return []
    return render_formulas(
        formulas,
        style=style,
        processed=processed,
        workers=workers,
        cache_dir=cache_dir() / "renders",
    )
