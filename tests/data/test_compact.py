import json
from pathlib import Path

import numpy as np
import pytest

from im2markup.data.compact import dequantize, pack, quantize, unpack
from im2markup.data.shards import ShardReader, ShardWriter
from shard_fixtures import first_val_samples

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def dataset(im2latex_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built-dataset folder whose training split holds every formula twice (two sources)."""
    root = tmp_path_factory.mktemp("dataset")
    samples = first_val_samples(im2latex_dir, 40)
    for split, copies in (("train", 2), ("val", 1)):
        with ShardWriter(root / split) as writer:
            for copy in range(copies):
                for k, (png, label, normalized) in enumerate(samples):
                    writer.add(png, label, f"source-{copy}", "shared", normalized, f"val:{k}")
    (root / "vocab.txt").write_text("\\frac\nx\n", encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps({"name": "t"}), encoding="utf-8")
    return root


def test_quantization_keeps_white_and_black_and_bounds_the_error() -> None:
    levels = np.arange(256, dtype=np.uint8)
    restored = dequantize(quantize(levels))
    assert restored[0] == 0 and restored[255] == 255
    error = np.abs(restored.astype(int) - levels)
    assert error.max() == 15
    assert error[16:240].max() <= 8


def test_pack_keeps_one_image_per_formula_and_unpacks_to_a_dataset(dataset, tmp_path) -> None:
    out = tmp_path / "subset.xz"
    report = pack(dataset, out, {"train": 100, "val": 10}, seed=3)
    assert report.counts == {"train": 40, "val": 10}
    assert report.formulas == {"train": 40, "val": 10}
    packed_pngs = ShardReader(dataset / "train").png
    assert report.bytes < 0.6 * sum(len(packed_pngs(i)) for i in range(50))

    assert unpack(out, tmp_path / "copy", workers=2) == {"train": 40, "val": 10}
    assert (tmp_path / "copy" / "vocab.txt").read_text() == "\\frac\nx\n"
    source, copy = ShardReader(dataset / "train"), ShardReader(tmp_path / "copy" / "train")
    by_hash = {source.hashes[i]: i for i in range(40)}
    for j in range(len(copy)):
        record, i = copy.record(j), by_hash[copy.hashes[j]]
        assert (record.label, record.alt_label, record.ref) == (
            source.label(i),
            source.record(i).alt_label,
            source.record(i).ref,
        )
        original, restored = source.image(i), copy.image(j)
        assert restored.shape == original.shape
        np.testing.assert_array_equal(restored, dequantize(quantize(original)))


def test_unpack_rejects_a_file_that_is_not_a_subset(tmp_path) -> None:
    import lzma

    bogus = tmp_path / "bogus.xz"
    bogus.write_bytes(lzma.compress(b"not a subset"))
    with pytest.raises(ValueError, match="not a compact"):
        unpack(bogus, tmp_path / "out")


def test_unpack_writes_only_the_dataset_files_it_knows(dataset, tmp_path) -> None:
    """A crafted header naming `../x` must not write outside the output folder."""
    import lzma
    import struct

    packed = tmp_path / "subset.xz"
    pack(dataset, packed, {"train": 4, "val": 2})
    magic, _, rest = lzma.decompress(packed.read_bytes()).partition(b"\n")
    (size,) = struct.unpack("<Q", rest[:8])
    header = json.loads(rest[8 : 8 + size])
    header["files"]["../escaped.txt"] = "outside"
    blob = json.dumps(header).encode()
    crafted = magic + b"\n" + struct.pack("<Q", len(blob)) + blob + rest[8 + size :]
    packed.write_bytes(lzma.compress(crafted))
    with pytest.raises(ValueError, match=r"unexpected files.*escaped"):
        unpack(packed, tmp_path / "out" / "ds")
    assert not (tmp_path / "out" / "escaped.txt").exists()


def test_cli_packs_and_unpacks_and_names_a_missing_dataset(dataset, tmp_path, capsys) -> None:
    from im2markup.cli.main import main

    subset = tmp_path / "subset.xz"
    args = ["data", "pack", str(subset), "--data", str(dataset), "--train", "5", "--val", "2"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"train": 5, "val": 2}
    assert main(["data", "unpack", str(subset), "--out", str(tmp_path / "ds")]) == 0
    assert len(ShardReader(tmp_path / "ds" / "val")) == 2

    assert main(["data", "pack", str(subset), "--data", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
