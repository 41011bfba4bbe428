"""The CROHME 2014 test reader on the real archive, and the CROHME expression rates."""

from __future__ import annotations

import io
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from im2markup.data.handwriting.crohme_metrics import expression_rates
from im2markup.data.handwriting.crohme_reader import (
    TEST_CAPTIONS,
    TEST_IMAGES,
    bitmap_to_input,
    load_crohme2014_test,
    read_captions,
)


@pytest.mark.shared_data
def test_reads_all_986_expressions_as_dark_ink_on_white(shared_dir: Path) -> None:
    samples = load_crohme2014_test(shared_dir)
    assert len(samples) == 986
    captions = read_captions(shared_dir / TEST_CAPTIONS)
    assert [(s.id, s.tokens) for s in samples] == captions
    first = samples[0]
    assert first.id == "18_em_0"
    assert " ".join(first.tokens) == "x _ { k } x x _ { k } + y _ { k } y x _ { k }"
    for sample in samples[:50]:
        pixels = np.asarray(sample.image)
        assert sample.image.mode == "L"
        # White background (the bitmaps are white on black), ink present, and a white border
        # left by the 8 px pad (only Lanczos ringing touches it after the ×2 downsampling).
        assert np.median(pixels) == 255
        assert pixels.min() < 64
        border = np.concatenate([pixels[:2].ravel(), pixels[-2:].ravel()])
        border = np.concatenate([border, pixels[:, :2].ravel(), pixels[:, -2:].ravel()])
        assert border.min() >= 250


@pytest.mark.shared_data
def test_image_is_the_inverted_bitmap_cropped_padded_and_halved(shared_dir: Path) -> None:
    with tarfile.open(shared_dir / TEST_IMAGES, "r:gz") as archive:
        raw = archive.extractfile("off_image_test/18_em_10_0.bmp").read()  # type: ignore[union-attr]
    bitmap = np.asarray(Image.open(io.BytesIO(raw)).convert("L"))
    ink_rows = np.flatnonzero((bitmap > 128).any(axis=1))
    ink_cols = np.flatnonzero((bitmap > 128).any(axis=0))
    height = ink_rows[-1] - ink_rows[0] + 1 + 16
    width = ink_cols[-1] - ink_cols[0] + 1 + 16
    image = bitmap_to_input(Image.fromarray(bitmap))
    assert image.size == (-(-width // 2), -(-height // 2))
    # Ink where the bitmap had its white strokes: the darkest pixels sit on inverted strokes.
    small = np.asarray(image)
    assert small.min() == 0


def test_missing_and_broken_bitmaps_are_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crohme = tmp_path / "crohme"
    crohme.mkdir()
    (crohme / "test_caption.txt").write_text("a\tx + 1\nb\ty\nc\t2\n", encoding="utf-8")
    stroke = np.zeros((60, 80), dtype=np.uint8)
    stroke[20:40, 30:34] = 255
    with tarfile.open(crohme / "crohme2014_test_images.tar.gz", "w:gz") as archive:
        for name, payload in (
            ("off_image_test/a_0.bmp", _bmp(stroke)),
            ("off_image_test/b_0.bmp", b"not a bitmap"),
            ("../escape_0.bmp", _bmp(stroke)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    with caplog.at_level(logging.WARNING):
        samples = load_crohme2014_test(tmp_path)
    assert [s.id for s in samples] == ["a"]
    assert samples[0].tokens == ["x", "+", "1"]
    assert "off_image_test/b_0.bmp" in caplog.text
    assert "c left out" in caplog.text
    assert (
        not (tmp_path / "escape_0.bmp").exists() and not (tmp_path.parent / "escape_0.bmp").exists()
    )


def test_malformed_caption_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "captions.txt"
    path.write_text("a\tx\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"captions.txt:2"):
        read_captions(path)


def test_expression_rates_count_token_errors() -> None:
    pairs = [
        ("x ^ { 2 }", "x ^ { 2 }"),  # exact
        ("a + b", "a - b"),  # one substitution
        ("a + b", "a"),  # two deletions
        (r"\frac { 1 } { 2 }", ""),  # missing prediction: seven deletions
        ("x _ { i } ^ { 2 }", "x ^ { 2 } _ { i }"),  # the same, scripts in the other order
    ]
    golds = [gold.split() for gold, _ in pairs]
    predictions = [prediction.split() for _, prediction in pairs]
    rates = expression_rates(predictions, golds)
    assert rates.count == 5
    assert rates.exact == pytest.approx(40.0)
    assert rates.within_1 == pytest.approx(60.0)
    assert rates.within_2 == pytest.approx(80.0)


def test_expression_rates_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 gold"):
        expression_rates([["x"], ["y"]], [["x"]])


def _bmp(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="BMP")
    return buffer.getvalue()
