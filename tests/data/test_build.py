import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.cli.main import main
from im2markup.data.corpus.build import BuildOptions, build, heldout_indices, heldout_lines
from im2markup.data.corpus.cleaning import loose_key, nospace_form
from im2markup.data.corpus.corpora import im2latex_split, tar_images
from im2markup.data.dataset import BucketBatchSampler, FormulaDataset, collate
from im2markup.data.shards import ShardReader, formula_key
from im2markup.data.vocab import Vocab
from im2markup.evaluation.splits import load_split

pytestmark = [pytest.mark.shared_data, pytest.mark.latex]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("build")
    options = BuildOptions(
        shared=shared_dir,
        out=base / "data",
        limit=6,
        target_formulas=0,
        render_cache=base / "renders",
        progress=False,
    )
    return base, build(options)


def test_test_split_is_the_paper_style_test_set_in_line_order(built, shared_dir) -> None:
    base, manifest = built
    test = im2latex_split("test", shared_dir)
    reader = ShardReader(base / "data" / "test")
    failed = (base / "data" / "test-failed.tsv").read_text().splitlines()
    assert len(reader) + len(failed) == 6
    for i in range(len(reader)):
        record = reader.record(i)
        k = int(record.ref.split(":")[1])
        assert (record.label, record.alt_label, record.style) == (
            test.norm[k],
            test.nospace[k],
            "paper",
        )
        image = reader.image(i)
        assert image.dtype == np.uint8 and image.min() < 128 and image[0].min() == 255
    shared = ShardReader(base / "data" / "test-shared")
    originals = dict(tar_images(test.images, set(range(6))))
    assert [shared.png(i) for i in range(len(shared))] == [originals[k] for k in range(6)]
    assert shared.labels() == test.nospace[:6]
    assert manifest["splits"]["test-shared"]["samples"] == 6


def test_val_holds_the_fixed_heldout_formulas_in_both_forms(built, shared_dir) -> None:
    base, _ = built
    val = im2latex_split("val", shared_dir)
    held = heldout_indices(len(val), 1000, 0)[:6]
    assert held == heldout_indices(len(val), 1000, 0)[:6] and len(set(held)) == 6
    written = [int(k) for k in (base / "data" / "val-indices.txt").read_text().split()]
    assert written == held
    reader = ShardReader(base / "data" / "val")
    for i in range(len(reader)):
        record = reader.record(i)
        k = int(record.ref.split(":")[1])
        assert k in held
        expected = val.norm[k] if record.style == "paper" else val.nospace[k]
        assert record.label == expected
    styles = [reader.record(i).style for i in range(len(reader))]
    assert styles.count("shared-image") == 6


def test_the_val_split_is_what_the_dataset_recorded(built, shared_dir, tmp_path) -> None:
    base, _ = built
    recorded = [int(k) for k in (base / "data" / "val-indices.txt").read_text().split()]
    assert heldout_lines(base / "data", shared_dir) == recorded and len(recorded) == 6
    split = load_split("val", base / "data")
    assert split.names == [f"{k}.png" for k in recorded]
    val = im2latex_split("val", shared_dir)
    before_any_build = heldout_lines(tmp_path / "not-built", shared_dir)
    assert before_any_build == heldout_indices(len(val), 1000, 0)
    unrecorded = tmp_path / "without-record"
    unrecorded.mkdir()
    manifest = {"options": {"seed": 3, "val_size": 1000, "limit": 4}}
    (unrecorded / "manifest.json").write_text(json.dumps(manifest))
    assert heldout_lines(unrecorded, shared_dir) == heldout_indices(len(val), 1000, 3)[:4]


def test_train_never_holds_a_test_or_heldout_formula(built, shared_dir) -> None:
    base, _ = built
    test = im2latex_split("test", shared_dir)
    val = im2latex_split("val", shared_dir)
    held = [int(k) for k in (base / "data" / "val-indices.txt").read_text().split()]
    forbidden = [*test.norm, *test.nospace, *(val.norm[k] for k in held)]
    exact = {formula_key(f) for f in forbidden}
    loose = {loose_key(f) for f in forbidden}
    reader = ShardReader(base / "data" / "train")
    assert len(reader) > 30
    for i in range(len(reader)):
        record = reader.record(i)
        assert formula_key(record.label) not in exact and formula_key(record.alt_label) not in exact
        assert loose_key(record.alt_label) not in loose
        if record.style == "shared":
            assert record.label == nospace_form(record.alt_label)
        elif record.style == "paper":
            assert record.label == record.alt_label
        assert len(record.label.split()) <= 150
        assert record.width <= 500 and record.height <= 160
    assert {reader.record(i).style for i in range(len(reader))} == {
        "paper",
        "shared",
        "shared-image",
    }


def test_vocab_and_manifest_describe_the_build(built) -> None:
    base, manifest = built
    vocab = Vocab.load(base / "data" / "vocab.txt")
    train_labels = ShardReader(base / "data" / "train").labels()
    counts = {t: sum(label.split().count(t) for label in train_labels) for t in vocab.tokens}
    assert min(counts.values()) >= 2
    on_disk = json.loads((base / "data" / "manifest.json").read_text())
    assert on_disk["manifest_hash"] == manifest["manifest_hash"]
    assert set(on_disk["outputs"]) >= {
        "train",
        "val",
        "test",
        "test-shared",
        "vocab.txt",
        "pool.tsv",
    }
    assert on_disk["splits"]["train"]["samples"] == len(train_labels)
    rows = {row["source"]: row for row in on_disk["yields"]}
    assert rows["arxiv-hepth"]["raw"] == 6 and rows["arxiv-hepth"]["rendered"] <= 6
    assert on_disk["packed_bytes"] > 0 and "closeness_to_heldout_val" in on_disk


def test_rebuild_is_identical_and_renders_nothing_new(built, shared_dir) -> None:
    base, manifest = built
    before = sorted(p.name for p in (base / "renders").rglob("*") if p.is_file())
    again = build(
        BuildOptions(
            shared=shared_dir,
            out=base / "again",
            limit=6,
            target_formulas=0,
            render_cache=base / "renders",
            progress=False,
        )
    )
    after = sorted(p.name for p in (base / "renders").rglob("*") if p.is_file())
    assert before == after
    assert again["outputs"] == manifest["outputs"]
    assert again["manifest_hash"] == manifest["manifest_hash"], "the output folder is not hashed"


def test_built_train_split_feeds_batches(built) -> None:
    base, _ = built
    vocab = Vocab.load(base / "data" / "vocab.txt")
    dataset = FormulaDataset(base / "data" / "train", vocab)
    sampler = BucketBatchSampler.from_dataset(dataset, batch_size=8, seed=0)
    batches = [collate([dataset[key] for key in keys]) for keys in sampler]
    assert sum(b["images"].shape[0] for b in batches) == len(dataset)
    first = batches[0]
    row = Image.open(io.BytesIO(dataset.reader.png(int(first["ids"][0]))))
    assert first["images"].shape[2] >= row.height and first["images"].shape[3] >= row.width


def test_clean_cli_writes_the_pool_and_yields(tmp_path: Path, shared_dir, capsys) -> None:
    out = tmp_path / "pool.tsv"
    args = [
        "data",
        "clean",
        "--shared",
        str(shared_dir),
        "--limit",
        "5",
        "--no-render",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    lines = out.read_text().splitlines()
    assert lines and all(len(line.split("\t")) == 3 for line in lines)
    report = json.loads((tmp_path / "pool.yields.json").read_text())
    assert report["pool_size"] == len(lines)
    assert json.loads(capsys.readouterr().out)["pool_size"] == len(lines)


def test_stats_cli_compares_the_pool_with_the_heldout_formulas(built, shared_dir, capsys) -> None:
    base, manifest = built
    args = ["data", "stats", "--data", str(base / "data"), "--shared", str(shared_dir), "--json"]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows["reference"]["formulas"] == 6 and rows["reference"]["token_js"] == 0.0
    assert rows["all"]["formulas"] == manifest["pool_size"]
    assert 0.0 < rows["all"]["token_js"] < 1.0
