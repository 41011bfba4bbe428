"""The CROHME inks split by writer, and `data build-handwritten --ink`: labels, repeatability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from im2markup.data.corpus.build_ink import InkOptions, build_ink
from im2markup.data.corpus.cleaning import Exclusions
from im2markup.data.corpus.crohme_inks import LabelledInk, held_out_writers, labelled_inks
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, read_captions
from im2markup.data.handwriting.inkml import InkExpression
from im2markup.data.shards import ShardReader
from im2markup.paths import models_dir

pytestmark = pytest.mark.shared_data


def _ink(sample_id: str, writer: str) -> InkExpression:
    return InkExpression(sample_id, "c", writer, "", [])


def test_captions_equal_to_a_test_formula_are_left_out(shared_dir: Path) -> None:
    test_caption = read_captions(shared_dir / TEST_CAPTIONS)[0][1]
    test = Exclusions({"crohme2014-test": [" ".join(to_normalized(test_caption))]})
    captions = {"a": ["x", "+", "1"], "b": test_caption, "c": [r"\notacrohmetoken"]}
    inks = [_ink("a", "w1"), _ink("b", "w1"), _ink("c", "w2"), _ink("d", "w2")]
    kept, removed = labelled_inks(inks, captions, test)
    assert [item.ink.id for item in kept] == ["a"]
    assert kept[0].label == "x + 1"
    assert removed == {"equals crohme2014-test": 1, "not CROHME tokens": 1, "no caption": 1}


def test_held_out_writers_cover_the_fraction_with_whole_writers() -> None:
    items = [
        LabelledInk(_ink(f"{w}-{k}", f"w{w}"), "x", "x") for w in range(20) for k in range(w + 1)
    ]
    held = held_out_writers(items, 0.1, seed=0)
    share = sum(item.ink.writer in held for item in items) / len(items)
    assert 0.1 <= share < 0.25
    assert held == held_out_writers(items, 0.1, seed=0)
    assert held != held_out_writers(items, 0.1, seed=1)


def _build(tmp: Path, workers: int) -> dict:
    options = InkOptions(
        vocab=models_dir() / "im2tex-handwritten",
        variants=3,
        photo_fraction=0.5,
        val_fraction=0.2,
        limit=60,
        out=tmp,
        workers=workers,
        progress=False,
    )
    return build_ink(options)


def test_a_small_build_holds_out_writers_and_repeats_exactly(tmp_path: Path) -> None:
    manifest = _build(tmp_path / "a", workers=2)
    directory = tmp_path / "a" / "ink"
    train, val = ShardReader(directory / "train"), ShardReader(directory / "val")
    held = set(manifest["writers"]["val"])
    assert held and manifest["test_labels_found"] == {"train": 0, "val": 0}
    val_ids = {val.record(k).ref.split(":")[1].split("#")[0] for k in range(len(val))}
    train_ids = {train.record(k).ref.split(":")[1].split("#")[0] for k in range(len(train))}
    assert val_ids and train_ids and not val_ids & train_ids
    styles = {train.record(k).style for k in range(len(train))}
    assert styles == {"ink", "ink-augmented", "ink-photo"}
    assert {val.record(k).style for k in range(len(val))} == {"ink"}
    assert len(train) == 3 * manifest["expressions"]["train"] - sum(
        manifest["splits"]["train"]["dropped"].values()
    )
    again = _build(tmp_path / "b", workers=1)
    assert again["manifest_hash"] == manifest["manifest_hash"]
    saved = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert saved["manifest_hash"] == manifest["manifest_hash"]
