"""The paper's results table for several evaluated models, each beside the row the paper published.

Deng et al. (2017): their IM2LATEX-100K test results and their count of attention cells per
decoding step; the figures are quoted, not measured here. Our rows come from the `metrics.json`
of `im2markup evaluate --model DIR --split test` folders, so the table is only as current as
those evaluations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from im2markup.evaluation.report import fmt


@dataclass(frozen=True)
class PublishedRow:
    """One model of the paper's table: its name there and its published figures."""

    name: str
    bleu: float
    match: float
    match_nows: float
    fine_cells: float | None = None
    coarse_cells: float | None = None


# Keyed by (arch, attention) as our model configs name them. BLEU is the paper's BLEU on
# normalized tokens, the one our evaluation computes.
PUBLISHED: dict[tuple[str, str], PublishedRow] = {
    ("seq2seq", "standard"): PublishedRow("IM2TEX, standard", 87.73, 77.46, 79.88, 355),
    ("seq2seq", "coarse_only"): PublishedRow("IM2TEX, coarse-only", 79.53, 44.40, 48.53),
    ("seq2seq", "hierarchical"): PublishedRow("IM2TEX, hierarchical", 86.21, 77.39, 79.63, 355, 22),
    ("seq2seq", "hard"): PublishedRow("IM2TEX-C2F, hard", 87.07, 74.90, 77.07, 16, 22),
    ("seq2seq", "sparsemax"): PublishedRow("IM2TEX-C2F, sparsemax", 86.97, 76.15, 78.10, 74, 22),
    ("cnn_only", "standard"): PublishedRow("CAPTION (CNNEnc)", 75.01, 53.53, 55.72),
    ("ctc", "standard"): PublishedRow("CTC", 30.36, 7.60, 9.16),
}

HEADER = (
    "model",
    "BLEU",
    "image edit distance",
    "match",
    "match −ws",
    "fine cells/step",
    "coarse cells/step",
    "images/s",
)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ours(label: str, m: dict) -> str:
    coarse = m.get("mean_coarse_cells_per_step")
    return _row(
        [
            label,
            fmt(m.get("bleu")),
            fmt(m.get("image_edit_distance")),
            fmt(m.get("image_match")),
            fmt(m.get("image_match_nows")),
            fmt(m.get("mean_fine_cells_per_step")),
            fmt(coarse) if coarse else "—",
            fmt(m.get("decode_images_per_second")),
        ]
    )


def _published(row: PublishedRow) -> str:
    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:g}"

    return _row(
        [
            f"*{row.name} (paper, quoted)*",
            fmt(row.bleu),
            "—",
            fmt(row.match),
            fmt(row.match_nows),
            number(row.fine_cells),
            number(row.coarse_cells),
            "—",
        ]
    )


def load_metrics(folder: Path) -> dict:
    """`metrics.json` of one `--model` evaluation folder, with a clear error when it is not one."""
    path = folder / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder}: no metrics.json (not an evaluation folder)") from None
    if "model" not in metrics:
        raise ValueError(f"{folder}: not decoded with --model, so it has no attention cost")
    return metrics


def results_table(folders: Sequence[Path]) -> str:
    """Markdown table: the evaluated models grouped by variant, each labelled with its beam
    size (rows decoded with different beams are not comparable), every group followed by the
    paper's row for that variant."""
    evaluated = [load_metrics(folder) for folder in folders]
    splits = {m["split"] for m in evaluated}
    if len(splits) > 1:
        raise ValueError(f"the folders evaluate different splits: {sorted(splits)}")
    lines = [_row(HEADER), "| --- |" + " ---: |" * (len(HEADER) - 1)]
    groups: dict[tuple[str, str], list[dict]] = {}
    for metrics in evaluated:
        model = metrics["model"]
        groups.setdefault((model["arch"], model["attention"]), []).append(metrics)
    for key, group in groups.items():
        for metrics in group:
            name = Path(metrics["model"]["dir"]).name
            beam = metrics.get("decode_beam")
            lines.append(_ours(f"{name} ({key[0]}, {key[1]}, beam {beam})", metrics))
        if key in PUBLISHED:
            lines.append(_published(PUBLISHED[key]))
    return "\n".join(lines)
