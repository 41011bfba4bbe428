"""Reading predictions files and resolving splits: formats, matching, and bad entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from im2markup.evaluation.predictions import load_predictions
from im2markup.evaluation.splits import load_split, split_from_file
from im2markup.paths import shared_data_dir

NAMES = ["0.png", "1.png", "2.png"]


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "pred.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_plain_lines_align_by_position_and_short_files_leave_items_missing(tmp_path: Path) -> None:
    loaded = load_predictions(write(tmp_path, ["x ^ { 2 }", ""]), NAMES)
    assert loaded.tokens == [["x", "^", "{", "2", "}"], [], None]
    assert loaded.n_missing == 1
    assert "last 1 count as missing" in loaded.problems[0]


def test_plain_file_with_too_many_lines_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="4 prediction lines for 3 items"):
        load_predictions(write(tmp_path, ["a", "b", "c", "d"]), NAMES)


def test_formula_starting_with_a_brace_is_a_plain_line(tmp_path: Path) -> None:
    loaded = load_predictions(write(tmp_path, ["{ a } ^ { 2 }", "b", "c"]), NAMES)
    assert loaded.tokens[0] == ["{", "a", "}", "^", "{", "2", "}"]


def test_json_lines_match_by_image_name_in_any_order(tmp_path: Path) -> None:
    entries = [
        {"image": "/some/where/2.png", "latex": "b", "tokens": "b", "score": -1.0},
        {"image": "0.png", "latex": "\\frac{a}{b}", "tokens": ["\\frac", "{", "a", "}"]},
    ]
    path = write(tmp_path, [json.dumps(e) for e in entries])
    loaded = load_predictions(path, NAMES)
    assert loaded.tokens == [["\\frac", "{", "a", "}"], None, ["b"]]
    assert loaded.problems == []


def test_json_without_tokens_is_normalized(tmp_path: Path) -> None:
    entries = [{"image": "1", "latex": "x^2_i"}, {"image": "2", "latex": "\\frac{a}{b"}]
    loaded = load_predictions(write(tmp_path, [json.dumps(e) for e in entries]), NAMES)
    assert loaded.tokens[1] == ["x", "_", "{", "i", "}", "^", "{", "2", "}"]
    assert loaded.tokens[2] == ["\\frac", "{", "a", "}", "{", "b"]  # unparsable: raw tokens


def test_normalize_all_turns_foreign_latex_into_normalized_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, ["\\frac{a}{b}", "x^2_i", ""])
    loaded = load_predictions(path, NAMES, normalize_all=True)
    assert loaded.tokens == [
        ["\\frac", "{", "a", "}", "{", "b", "}"],
        ["x", "_", "{", "i", "}", "^", "{", "2", "}"],
        [],
    ]


def test_bad_json_entries_are_reported_and_never_lose_the_rest(tmp_path: Path) -> None:
    lines = [
        json.dumps({"image": "0.png", "tokens": "a"}),
        "{not json",
        json.dumps({"image": "7.png", "tokens": "c"}),
        json.dumps({"image": "0.png", "tokens": "again"}),
        json.dumps({"image": "1.png", "error": "unreadable image"}),
        json.dumps({"image": "2.png", "tokens": "z"}),
    ]
    loaded = load_predictions(write(tmp_path, lines), NAMES)
    assert loaded.tokens == [["a"], None, ["z"]]
    problems = "\n".join(loaded.problems)
    assert "line 2" in problems
    assert "'7.png' is not an item" in problems
    assert "line 4: second prediction for item 0" in problems
    assert "line 5: prediction failed: unreadable image" in problems


def test_formula_file_split(tmp_path: Path) -> None:
    gold = tmp_path / "gold.txt"
    gold.write_text("a + b\n\\alpha\n", encoding="utf-8")
    split = split_from_file(gold)
    assert split.golds == ["a + b", "\\alpha"]
    assert split.names == ["0.png", "1.png"]
    assert split.input_image(0) is None
    assert split.head(1).golds == ["a + b"]


def test_unknown_split_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="test-shared"):
        load_split("train")


@pytest.mark.shared_data
def test_shared_splits() -> None:
    test = load_split("test")
    assert len(test) == 9443 and test.style == "paper"
    assert test.golds[0].startswith("\\alpha _ { 1 } ^ { r }")
    shared = load_split("test-shared")
    assert len(shared) == 9443 and shared.style == "shared"
    image = shared.input_image(0)
    assert image is not None and image.mode == "L"
    val = load_split("val")
    assert len(val) == 1000 and len(set(val.names)) == 1000
    lines = (shared_data_dir() / "im2latex100k/formulas/val.formulas.norm.txt").read_text()
    k = int(val.names[0].removesuffix(".png"))
    assert val.golds[0] == lines.splitlines()[k]
    crohme = load_split("crohme2014")
    assert len(crohme) == 986
    assert crohme.names[0] == "18_em_0_0.bmp"
    assert crohme.input_image(0) is not None


def test_images_folder_of_a_formula_file_split(tmp_path: Path) -> None:
    gold = tmp_path / "gold.txt"
    gold.write_text("a\nb\nc\n", encoding="utf-8")
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (30, 10), "white").save(images / "0.png")
    (images / "1.png").write_bytes(b"not an image at all")
    split = split_from_file(gold, images)
    first = split.input_image(0)
    assert first is not None and first.mode == "L" and first.size == (30, 10)
    assert split.input_image(1) is None  # unreadable: no picture, no crash
    assert split.input_image(2) is None  # absent
