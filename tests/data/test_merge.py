"""`im2markup data merge`: two real packed datasets become one training set, the first one's
validation and vocabulary kept, the pixels and labels of every sample unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from im2markup.cli.main import main
from im2markup.data.corpus.manifest import load_manifest
from im2markup.data.corpus.merge import MergeOptions, merge_datasets
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import Vocab
from training_fixtures import make_dataset

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, im2latex_dir: Path) -> tuple[Path, Path]:
    """Two datasets of different sizes, given one vocabulary of all their training labels."""
    first = make_dataset(tmp_path_factory.mktemp("a"), im2latex_dir, n_train=12, n_val=4) / "tiny"
    second = make_dataset(tmp_path_factory.mktemp("b"), im2latex_dir, n_train=20, n_val=6) / "tiny"
    labels = [label for d in (first, second) for label in ShardReader(d / "train").labels()]
    for directory in (first, second):
        Vocab.build(labels, min_count=1).save(directory / "vocab.txt")
    return first, second


def samples(directory: Path) -> list[tuple[bytes, str, str, str]]:
    reader = ShardReader(directory)
    return [
        (reader.png(i), reader.label(i), reader.record(i).ref, reader.record(i).hash)
        for i in range(len(reader))
    ]


def test_merge_keeps_every_training_sample_and_the_first_validation(
    sources: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = sources
    manifest = merge_datasets(MergeOptions((first, second), tmp_path / "mixed", progress=False))
    merged = tmp_path / "mixed"
    assert samples(merged / "train") == samples(first / "train") + samples(second / "train")
    assert samples(merged / "val") == samples(first / "val")
    assert (merged / "vocab.txt").read_bytes() == (first / "vocab.txt").read_bytes()
    assert manifest["splits"]["train"]["samples"] == 32
    assert load_manifest(merged)["manifest_hash"] == manifest["manifest_hash"]
    assert set(manifest["inputs"]) == {str(first), str(second)}


def test_merge_refuses_another_vocabulary_and_an_existing_folder(
    sources: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = sources
    other = tmp_path / "other"
    other.mkdir()
    (other / "train").symlink_to(second / "train")
    (other / "vocab.txt").write_text("\\alpha\n", encoding="utf-8")
    with pytest.raises(ValueError, match="another vocabulary"):
        merge_datasets(MergeOptions((first, other), tmp_path / "out", progress=False))
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError):
        merge_datasets(MergeOptions((first, second), tmp_path / "taken", progress=False))


def test_cli_merges_by_folder_and_names_a_bad_source(
    sources: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    first, second = sources
    out = tmp_path / "mixed"
    args = ["data", "merge", str(first), str(second), "--name", "mixed", "--out", str(out)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["splits"]["train"]["samples"] == 32
    assert main(["data", "merge", str(first), str(tmp_path), "--name", "x", "--out", str(out)]) == 2
    assert f"{tmp_path} is not a built dataset" in capsys.readouterr().err
