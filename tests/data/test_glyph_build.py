"""`im2markup data build-handwritten --glyphs`: a tiny build from real data, test formulas planted
among the printed ones, and drawings that do not depend on the number of workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from glyph_fixtures import small_shared
from im2markup.cli.main import main
from im2markup.data.corpus.build_glyphs import (
    GlyphOptions,
    crohme_formulas,
    lay_out,
    write_train,
)
from im2markup.data.corpus.cleaning import Exclusions, PoolEntry
from im2markup.data.corpus.corpora import im2latex_split
from im2markup.data.corpus.crohme_inks import writer_split
from im2markup.data.corpus.manifest import load_manifest
from im2markup.data.corpus.pretrain_formulas import candidate
from im2markup.data.dataset import FormulaDataset
from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, read_captions
from im2markup.data.handwriting.glyph_bank import GlyphBank
from im2markup.data.shards import ShardReader, formula_key
from im2markup.data.vocab import Vocab

CORPUS = "corpora/im2latex170k_test_norm.txt"
LIMIT = 300


def _test_formulas(shared_dir: Path) -> tuple[list[str], list[str]]:
    crohme = [" ".join(to_normalized(t)) for _, t in read_captions(shared_dir / TEST_CAPTIONS)]
    im2latex = im2latex_split("test", shared_dir)
    return crohme, [*im2latex.norm, *im2latex.nospace]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> dict:
    """A build of 24 drawings from a tenth of the inks (the first 300 of them) and the first 300
    formulas of each printed source, with a CROHME and an IM2LATEX test formula (both
    CROHME-only) planted at the top of a printed corpus."""
    base = tmp_path_factory.mktemp("glyphs")
    crohme_test, im2latex_test = _test_formulas(shared_dir)
    planted = next(
        f
        for f in im2latex_split("test", shared_dir).norm
        if candidate(PoolEntry("t", f, "t")).outside == 0 and 5 < len(f.split()) < 30
    )
    root = small_shared(base, shared_dir, prepend={CORPUS: [crohme_test[0], planted]})
    out = base / "out"
    argv = ["data", "build-handwritten", "--glyphs", "24", "--limit", str(LIMIT)]
    argv += ["--caption-variants", "2"]
    assert main([*argv, "--shared", str(root), "--out", str(out)]) == 0
    return {
        "root": root,
        "out": out / "glyphs",
        "test": Exclusions({"crohme": crohme_test, "im2latex": im2latex_test}),
        "test_keys": {formula_key(f) for f in [*crohme_test, *im2latex_test]},
    }


@pytest.mark.latex
@pytest.mark.shared_data
def test_tiny_build_has_no_test_formula_and_a_third_of_each_source(tiny: dict) -> None:
    out = tiny["out"]
    manifest = load_manifest(out)
    assert manifest["test_labels_found"] == {"train": 0, "val": 0}
    selection = manifest["printed_selection"]
    assert selection["equals crohme2014-test"] == 1 and selection["equals im2latex-test"] >= 1
    train, val = ShardReader(out / "train"), ShardReader(out / "val")
    assert len(train) == 24 == manifest["splits"]["train"]["samples"]
    for reader in (train, val):
        labels = reader.labels()
        assert labels and not {formula_key(label) for label in labels} & tiny["test_keys"]
        assert all(tiny["test"].match(label) is None for label in labels)
    sources = [train.record(i).source for i in range(len(train))]
    assert sources.count("crohme-train") == sources.count("crohme-variant") == 8
    captions = {formula_key(item.label) for item in writer_split(tiny["root"], limit=LIMIT).train}
    variants = [train.labels()[i] for i, s in enumerate(sources) if s == "crohme-variant"]
    assert not {formula_key(label) for label in variants} & captions
    assert manifest["formulas"]["variants"]["laid_out"] > 0
    assert {train.record(i).style for i in range(len(train))} <= {"glyphs", "glyphs-photo"}
    vocab = Vocab.load(out / "vocab.txt")
    dataset = FormulaDataset(out / "train", vocab)
    assert len(dataset) == 24 and dataset[0] is not None


@pytest.mark.latex
@pytest.mark.shared_data
def test_val_is_the_real_ink_of_the_held_out_writers(tiny: dict) -> None:
    split = writer_split(tiny["root"], limit=LIMIT)
    val = ShardReader(tiny["out"] / "val")
    refs = [val.record(i).ref for i in range(len(val))]
    assert refs == [f"crohme-ink:{item.ink.id}#0" for item in split.val]
    assert {val.record(i).style for i in range(len(val))} == {"ink"}
    manifest = load_manifest(tiny["out"])
    assert manifest["writers"]["val"] == sorted(split.held)


@pytest.mark.latex
@pytest.mark.shared_data
def test_drawings_do_not_depend_on_the_number_of_workers(tmp_path: Path, tiny: dict) -> None:
    split = writer_split(tiny["root"], limit=LIMIT)
    bank = GlyphBank.from_inks(item.ink for item in split.train)
    formulas, _ = lay_out(crohme_formulas(split.train)[:12], bank, workers=1)
    readers = []
    for workers in (1, 2):
        options = GlyphOptions(count=10, workers=workers, progress=False)
        write_train([formulas], bank, options, tmp_path / f"w{workers}")
        readers.append(ShardReader(tmp_path / f"w{workers}"))
    one, two = readers
    assert len(one) == len(two) == 10
    assert one.labels() == two.labels() and one.labels("ref") == two.labels("ref")
    assert [one.png(i) for i in range(10)] == [two.png(i) for i in range(10)]


def test_cli_refuses_negative_caption_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["data", "build-handwritten", "--glyphs", "5", "--caption-variants", "-1"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert "caption_variants must be 0 or more" in capsys.readouterr().err


def test_cli_refuses_a_count_below_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["data", "build-handwritten", "--glyphs", "0", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "count must be at least 1" in capsys.readouterr().err
