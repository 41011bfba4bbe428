"""Reports: the paper-layout table, breakdowns, token diffs, the HTML page and comparisons."""

from __future__ import annotations

import json
import re
from pathlib import Path

from im2markup.evaluation.breakdown import breakdown, length_label
from im2markup.evaluation.evaluate import compare
from im2markup.evaluation.report import metrics_table, status, token_diff, write_results
from im2markup.metrics.text import token_edit_distance


def item(index: int, gold: str, pred: str | None, image_match: bool | None) -> dict:
    g, p = gold.split(), (pred or "").split()
    return {
        "index": index,
        "name": f"{index}.png",
        "gold": gold,
        "pred": pred,
        "edit": token_edit_distance(p, g),
        "max_len": max(len(p), len(g)),
        "token_match": p == g,
        "image_match": image_match,
        "gold_error": None,
        "pred_error": None if pred else ("missing prediction" if pred is None else "empty"),
    }


ITEMS = [
    item(0, "\\frac { a } { b }", "\\frac { a } { b }", True),
    item(1, "\\left( x \\right)", "( x )", True),
    item(2, "\\hat { x } + y", "\\hat { x } - y", False),
    item(3, "a", None, False),
]
METRICS = {
    "split": "test",
    "style": "paper",
    "n": 4,
    "bleu": 12.345,
    "edit_distance": 50.0,
    "token_match": 25.0,
    "image_edit_distance": 60.0,
    "image_match": 50.0,
    "image_match_nows": 75.0,
    "image_match_script": 50.0,
    "n_images": 4,
    "n_render_failed_gold": 0,
    "n_render_failed_pred": 0,
    "n_missing_pred": 1,
    "n_empty_pred": 0,
    "seconds": 1.0,
}


def test_metrics_table_has_the_papers_columns() -> None:
    table = metrics_table([("IM2TEX", METRICS)])
    header, _, row = table.splitlines()
    assert header == "| | BLEU | edit distance | image edit distance | match | match −ws |"
    assert row == "| IM2TEX | 12.35 | 50.00 | 60.00 | 50.00 | 75.00 |"


def test_token_diff_marks_only_the_differing_tokens() -> None:
    assert token_diff("\\hat { x } + y", "\\hat { x } - y") == [
        ["\\hat { x }"],
        ["+", "-"],
        ["y"],
    ]
    assert token_diff("a b", None) == [["a b", ""]]


def test_status_uses_image_match_and_names_missing_items() -> None:
    assert [status(i) for i in ITEMS] == ["correct", "correct", "incorrect", "missing"]
    failed = dict(ITEMS[2], pred_error="! Undefined control sequence.")
    assert status(failed) == "failed"


def test_breakdown_by_length_and_structure() -> None:
    groups = breakdown(ITEMS)
    assert [g.group for g in groups["length"]] == [length_label(1)]
    structure = {g.group: g for g in groups["structure"]}
    assert structure["fraction"].n == 1 and structure["fraction"].image_match == 100.0
    assert structure["accent"].image_match == 0.0
    assert structure["\\left…\\right"].token_match == 0.0
    assert structure["none of these"].n == 1
    assert length_label(151) == "> 150 tokens" and length_label(26) == "26–50 tokens"


def test_write_results_page_is_self_contained(tmp_path: Path) -> None:
    write_results(tmp_path, METRICS, ITEMS, ["line 9: bad entry"])
    assert json.loads((tmp_path / "metrics.json").read_text())["bleu"] == 12.345
    assert "| test | 12.35 |" in (tmp_path / "metrics.md").read_text()
    assert len((tmp_path / "items.jsonl").read_text().splitlines()) == 4
    assert (tmp_path / "problems.txt").read_text() == "line 9: bad entry\n"
    page = (tmp_path / "report.html").read_text()
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # no network
    data = re.search(r"id='items-data'>(.*?)</script>", page, re.S).group(1)
    rows = json.loads(data.replace("<\\/", "</"))
    assert [r["s"] for r in rows] == ["correct", "correct", "incorrect", "missing"]
    assert "By structure" in page and "accent" in page


def test_page_survives_a_closing_script_tag_in_a_prediction(tmp_path: Path) -> None:
    hostile = [item(0, "a", "</script><script>alert(1)</script>", False)]
    write_results(tmp_path, METRICS | {"n": 1}, hostile, [])
    page = (tmp_path / "report.html").read_text()
    assert page.count("</script>") == 2  # the data block and the page's script, nothing else


def test_compare_lists_items_where_exactly_one_side_is_correct(tmp_path: Path) -> None:
    other = [dict(i) for i in ITEMS]
    other[0]["image_match"] = False
    other[2]["image_match"] = True
    write_results(tmp_path / "a", METRICS, ITEMS, [])
    write_results(tmp_path / "b", METRICS | {"image_match": 50.0}, other, [])
    disagreements = compare(tmp_path / "a", tmp_path / "b", tmp_path / "cmp")
    assert [d["index"] for d in disagreements] == [0, 2]
    assert "1 only A, 1 only B" in (tmp_path / "cmp" / "compare.md").read_text()
    assert "A: a" in (tmp_path / "cmp" / "compare.html").read_text()
