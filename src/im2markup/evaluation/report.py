"""Writing an evaluation's results: `metrics.json`, `metrics.md`, `items.jsonl`, `report.html`."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from im2markup.evaluation.breakdown import GroupScore, breakdown
from im2markup.evaluation.report_page import page
from im2markup.evaluation.spacing_errors import SpacingErrors, spacing_errors, spacing_markdown

FILES_DIR = "report_files"

# The paper's table: BLEU, edit distance, image edit distance, match, match −ws.
COLUMNS = (
    ("bleu", "BLEU"),
    ("edit_distance", "edit distance"),
    ("image_edit_distance", "image edit distance"),
    ("image_match", "match"),
    ("image_match_nows", "match −ws"),
)
# CROHME's table: expression rate, within one and two token errors, and BLEU.
CROHME_COLUMNS = (
    ("expression_rate", "ExpRate"),
    ("expression_rate_le1", "≤1 error"),
    ("expression_rate_le2", "≤2 errors"),
    ("bleu", "BLEU"),
)


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def columns(rows: Sequence[tuple[str, dict]]) -> tuple[tuple[str, str], ...]:
    """CROHME's columns when every row has expression rates, else the paper's."""
    crohme = bool(rows) and all("expression_rate" in metrics for _, metrics in rows)
    return CROHME_COLUMNS if crohme else COLUMNS


def metrics_table(rows: Sequence[tuple[str, dict]]) -> str:
    """Markdown table in the paper's (or CROHME's) layout, one row per (label, metrics)."""
    shown = columns(rows)
    lines = [
        "| | " + " | ".join(title for _, title in shown) + " |",
        "| --- |" + " ---: |" * len(shown),
    ]
    for label, metrics in rows:
        values = " | ".join(fmt(metrics.get(key)) for key, _ in shown)
        lines.append(f"| {label} | {values} |")
    return "\n".join(lines)


def counts_sentence(metrics: dict) -> str:
    """What the scores were computed over, in words."""
    parts = [
        f"{metrics['n']} items: {metrics['n_missing_pred']} predictions missing, "
        f"{metrics['n_empty_pred']} empty; exact token match {fmt(metrics['token_match'])}%."
    ]
    if metrics.get("n_images") is None:
        parts.append("Image metrics not computed.")
    else:
        parts.append(
            f"Image metrics over the {metrics['n_images']} items whose gold rendered "
            f"({metrics['n_render_failed_gold']} did not); "
            f"{metrics['n_render_failed_pred']} predictions did not render; image match by the "
            f"literal rule of the authors' script {fmt(metrics['image_match_script'])}%."
        )
    if "seconds" in metrics:
        parts.append(f"{metrics['seconds']} s.")
    return " ".join(parts)


def metrics_markdown(
    metrics: dict, groups: dict[str, list[GroupScore]], spacing: SpacingErrors | None = None
) -> str:
    """The `metrics.md` of one evaluation: the paper-layout table, counts, breakdowns, and the
    items wrong only in spacing (when images were compared)."""
    parts = [
        f"# Evaluation on `{metrics['split']}` (style `{metrics['style']}`)",
        metrics_table([(metrics["split"], metrics)]),
        counts_sentence(metrics),
    ]
    for title, rows in groups.items():
        parts.append(f"## By {title}\n\n{_group_markdown(rows)}")
    if spacing is not None and spacing.scored:
        parts.append(f"## Wrong only in spacing\n\n{spacing_markdown(spacing)}")
    return "\n\n".join(parts) + "\n"


def _group_markdown(rows: Sequence[GroupScore]) -> str:
    lines = ["| group | n | token match | edit distance | image match |", "| --- |" + " ---: |" * 4]
    for row in rows:
        lines.append(
            f"| {row.group} | {row.n} | {fmt(row.token_match)} | {fmt(row.edit_distance)} "
            f"| {fmt(row.image_match)} |"
        )
    return "\n".join(lines)


def _group_html(rows: Sequence[GroupScore]) -> str:
    head = "<tr><th>group</th><th>n</th><th>token match</th><th>edit distance</th>"
    head += "<th>image match</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(r.group)}</td><td>{r.n}</td><td>{fmt(r.token_match)}</td>"
        f"<td>{fmt(r.edit_distance)}</td><td>{fmt(r.image_match)}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def metrics_html(rows: Sequence[tuple[str, dict]]) -> str:
    shown = columns(rows)
    head = "<tr><th></th>" + "".join(f"<th>{t}</th>" for _, t in shown) + "</tr>"
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{fmt(m.get(k))}</td>" for k, _ in shown)
        + "</tr>"
        for label, m in rows
    )
    return f"<table>{head}{body}</table>"


def status(item: dict) -> str:
    """nogold / missing / failed / correct / incorrect; correct means image match if measured."""
    if item.get("gold_error"):
        return "nogold"
    if not item["pred"]:
        return "missing"
    if item.get("pred_error"):
        return "failed"
    match = item["image_match"] if item["image_match"] is not None else item["token_match"]
    return "correct" if match else "incorrect"


def token_diff(gold: str, pred: str | None) -> list[list[str]]:
    """Aligned segments: `[text]` where both agree, `[gold text, predicted text]` where not."""
    g, p = gold.split(), (pred or "").split()
    segments = []
    for op in Levenshtein.opcodes(g, p):
        gold_part = " ".join(g[op.src_start : op.src_end])
        if op.tag == "equal":
            segments.append([gold_part])
        else:
            segments.append([gold_part, " ".join(p[op.dest_start : op.dest_end])])
    return segments


def page_rows(items: Sequence[dict]) -> list[dict]:
    """The compact per-item records the report page's script draws."""
    return [
        {
            "i": item["index"],
            "n": item["name"],
            "s": status(item),
            "r": item.get("pred_error") or item.get("gold_error"),
            "e": item["edit"],
            "L": len(item["gold"].split()),
            "d": item.get("image_distance"),
            "f": item.get("files", {}),
            "t": token_diff(item["gold"], item["pred"]),
        }
        for item in items
    ]


def write_results(
    out_dir: Path, metrics: dict, items: Sequence[dict], problems: Sequence[str]
) -> None:
    """Write every output file of one evaluation into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = breakdown(items)
    spacing = spacing_errors(items)
    if spacing.scored:
        metrics = metrics | {"spacing_errors": spacing.as_dict()}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out_dir / "metrics.md").write_text(
        metrics_markdown(metrics, groups, spacing), encoding="utf-8"
    )
    with (out_dir / "items.jsonl").open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    if problems:
        (out_dir / "problems.txt").write_text("\n".join(problems) + "\n", encoding="utf-8")
    body = metrics_html([(metrics["split"], metrics)])
    body += f"<p>{html.escape(counts_sentence(metrics))}</p>"
    for title, rows in groups.items():
        body += f"<h2>By {html.escape(title)}</h2>{_group_html(rows)}"
    body += "<h2>Items</h2>"
    title = f"{metrics['split']}: {metrics.get('predictions', '')}"
    (out_dir / "report.html").write_text(
        page(title, body, page_rows(items), FILES_DIR), encoding="utf-8"
    )
