"""`im2markup evaluate` end to end on real test formulas, rendered with pdflatex."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from im2markup.cli.main import main
from im2markup.data.formula_images import render_formulas
from im2markup.metrics.image_match import compare_images

pytestmark = [pytest.mark.latex, pytest.mark.shared_data]

N = 20


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def isolated(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IM2MARKUP_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def golds(im2latex_dir: Path) -> list[str]:
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    return lines[:N]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_formula_matches_its_own_re_render(golds: list[str]) -> None:
    first, second = render_formulas(golds[:2], processed=False)
    again = render_formulas([golds[0]], processed=False)[0]
    assert first.image is not None and again.image is not None
    assert compare_images(first.image, again.image).match
    assert not compare_images(first.image, second.image).match


def test_evaluate_counts_wrong_empty_unrenderable_and_missing(
    golds: list[str], tmp_path: Path, isolated: Path
) -> None:
    preds = list(golds)
    preds[2] = "x + y"  # renders, wrong
    preds[4] = ""  # empty
    preds[6] = "\\frac { a } {"  # does not compile
    preds[9] = golds[9] + " { }"  # other tokens, same picture
    gold_file = write_lines(tmp_path / "gold.txt", golds)
    pred_file = write_lines(tmp_path / "pred.txt", preds[: N - 1])  # last one missing
    out = tmp_path / "out"
    assert main(["evaluate", str(pred_file), "--gold", str(gold_file), "--out", str(out)]) == 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == N and metrics["n_images"] == N
    assert metrics["n_render_failed_gold"] == 0
    assert (metrics["n_missing_pred"], metrics["n_empty_pred"]) == (1, 1)
    assert metrics["n_render_failed_pred"] == 1
    assert metrics["token_match"] == pytest.approx(100 * 15 / N)
    assert metrics["image_match"] == pytest.approx(100 * 16 / N)
    assert metrics["image_match_nows"] == pytest.approx(100 * 16 / N)
    assert 0 < metrics["bleu"] < 100 and 0 < metrics["image_edit_distance"] < 100

    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert [i["index"] for i in items if not i["image_match"]] == [2, 4, 6, N - 1]
    assert items[9]["image_match"] and not items[9]["token_match"]
    assert items[6]["pred_error"] and items[N - 1]["pred_error"] == "missing prediction"
    files = out / "report_files"
    assert (files / "2.diff.png").is_file() and (files / "2.pred.png").is_file()
    assert (files / "0.in.png").is_file() and not (files / "0.diff.png").exists()

    page = (out / "report.html").read_text()
    rows = json.loads(
        re.search(r"id='items-data'>(.*?)</script>", page, re.S).group(1).replace("<\\/", "</")
    )
    assert [r["s"] for r in rows].count("correct") == 16
    assert {rows[2]["s"], rows[4]["s"], rows[6]["s"]} == {"incorrect", "missing", "failed"}
    assert "| gold | " in (out / "metrics.md").read_text()

    same = write_lines(tmp_path / "same.txt", golds)
    out_same = tmp_path / "same"
    assert main(["evaluate", str(same), "--gold", str(gold_file), "--out", str(out_same)]) == 0
    perfect = json.loads((out_same / "metrics.json").read_text())
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["image_match"] == 100.0

    assert main(["evaluate", "--compare", str(out_same), str(out), "--out", str(tmp_path)]) == 0
    assert "4 only A, 0 only B" in (tmp_path / "compare.md").read_text()


def test_bad_arguments_give_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(tmp_path / "nope.txt"), "--split", "test"]) == 2
    assert "nope.txt does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope.txt")]) == 2
    assert "--split or --gold" in capsys.readouterr().err


def test_items_wrong_only_in_spacing_are_told_apart_by_kind(
    im2latex_dir: Path, tmp_path: Path, isolated: Path
) -> None:
    lines = (im2latex_dir / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    thin = [line for line in lines[:300] if line.count(" \\, ") == 1 and len(line.split()) < 40]
    golds = thin[:3]
    dropped = golds[0].replace(" \\, ", " ")
    changed = golds[1].replace(" \\, ", " \\quad ")
    tokens = golds[2].split()
    depth = [tokens[:k].count("{") - tokens[:k].count("}") for k in range(len(tokens))]
    top = next(k for k in range(1, len(tokens)) if depth[k] == 0 and tokens[k] in "+-=")
    added = " ".join([*tokens[:top], "\\qquad", *tokens[top:]])
    gold_file = write_lines(tmp_path / "gold.txt", golds)
    pred_file = write_lines(tmp_path / "pred.txt", [dropped, changed, added])
    out = tmp_path / "out"
    assert main(["evaluate", str(pred_file), "--gold", str(gold_file), "--out", str(out)]) == 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["image_match"], metrics["image_match_nows"]) == (0.0, 100.0)
    spacing = metrics["spacing_errors"]
    assert spacing["by_kind"] == {"dropped": 1, "changed": 1, "added": 1}
    assert spacing["dropped"] == {"\\,": 2}
    assert spacing["added"] == {"\\quad": 1, "\\qquad": 1}
    assert (
        "3 of 3 items (100.00%) match once whitespace is ignored"
        in (out / "metrics.md").read_text()
    )
