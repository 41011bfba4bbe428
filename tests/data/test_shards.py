import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.shards import ShardReader, ShardWriter, formula_hash
from shard_fixtures import first_val_samples, pack

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def samples(im2latex_dir: Path) -> list[tuple[bytes, str, str]]:
    return first_val_samples(im2latex_dir, 50)


def test_round_trip_keeps_images_and_labels_aligned(samples, tmp_path: Path) -> None:
    reader = ShardReader(pack(samples, tmp_path / "val"))
    assert len(reader) == 50
    for k, (png, nospace, normalized) in enumerate(samples):
        assert reader.png(k) == png
        original = np.asarray(Image.open(io.BytesIO(png)))
        decoded = reader.image(k)
        assert decoded.dtype == np.uint8 and decoded.shape == original.shape
        np.testing.assert_array_equal(decoded, original)
        record = reader.record(k)
        assert (record.label, record.alt_label, record.ref) == (nospace, normalized, f"val:{k}")
        assert (record.height, record.width) == original.shape
        assert (record.source, record.style) == ("im2latex-val", "shared")
        assert record.hash == formula_hash(nospace)
    assert reader.labels() == [s[1] for s in samples]
    assert reader.labels("alt_label") == [s[2] for s in samples]
    assert not (tmp_path / "val.partial").exists()


def test_small_shard_limit_spreads_samples_over_several_files(samples, tmp_path: Path) -> None:
    reader = ShardReader(pack(samples, tmp_path / "val", shard_bytes=20_000))
    total = sum(len(s[0]) for s in samples)
    assert len(reader.shard_names) >= total // 20_000
    for name in reader.shard_names:
        assert (tmp_path / "val" / name).stat().st_size <= 20_000 + max(len(s[0]) for s in samples)
    assert [reader.png(k) for k in range(50)] == [s[0] for s in samples]
    assert reader.label(-1) == samples[-1][1]
    with pytest.raises(IndexError, match="out of range"):
        reader.png(50)


def test_reader_survives_pickling_for_worker_processes(samples, tmp_path: Path) -> None:
    reader = ShardReader(pack(samples[:5], tmp_path / "val"))
    reader.image(0)
    clone = pickle.loads(pickle.dumps(reader))
    np.testing.assert_array_equal(clone.image(4), reader.image(4))


def test_arrays_and_colour_images_are_stored_as_grayscale(tmp_path: Path) -> None:
    gray = np.full((20, 30), 255, dtype=np.uint8)
    gray[5:15, 10:20] = 0
    colour = Image.new("RGB", (12, 7), (255, 0, 0))
    with ShardWriter(tmp_path / "mixed") as writer:
        writer.add(gray, "x", source="a", style="paper")
        writer.add(colour, "y", source="b", style="shared")
    reader = ShardReader(tmp_path / "mixed")
    np.testing.assert_array_equal(reader.image(0), gray)
    assert reader.image(1).shape == (7, 12)
    assert reader.image(1)[0, 0] == np.asarray(colour.convert("L"))[0, 0]
    assert [reader.record(i).style for i in range(2)] == ["paper", "shared"]
    assert reader.source_names == ["a", "b"]


def test_failed_writing_leaves_nothing_and_existing_splits_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "train"
    with pytest.raises(ValueError, match="not a PNG"), ShardWriter(target) as writer:
        writer.add(b"GIF89a not a png", "x", source="a", style="paper")
    assert not target.exists() and not (tmp_path / "train.partial").exists()
    with ShardWriter(target) as writer:
        writer.add(np.zeros((4, 4), dtype=np.uint8), "x", source="a", style="paper")
    with pytest.raises(FileExistsError):
        ShardWriter(target)
    with pytest.raises(FileNotFoundError, match="not a packed split"):
        ShardReader(tmp_path)


def test_formula_hash_ignores_spacing_only() -> None:
    assert formula_hash("x ^ { 2 }") == formula_hash("x^{2}")
    assert formula_hash("x ^ { 2 }") != formula_hash("x ^ { 3 }")


def test_a_split_rewritten_under_an_open_reader_is_detected(samples, tmp_path: Path) -> None:
    reader = ShardReader(pack(samples[:5], tmp_path / "val"))
    pack(samples[10:12], tmp_path / "val", overwrite=True)
    with pytest.raises(RuntimeError, match="changed since its index was read"):
        reader.png(0)
