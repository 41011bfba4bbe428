"""The Python API: `load_model` and `Predictor.predict` / `predict_batch` on real images."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from im2markup.data.images.user_images import ImageInputError, load_user_image
from im2markup.model.deadline import DeadlineExceeded
from im2markup.model.well_formed import first_well_formed
from im2markup.serving.inputs import prepare_inputs
from im2markup.serving.predictor import FailedPrediction, Prediction, Predictor
from serving_fixtures import (
    TEST_IMAGE_IDS,
    bundled_model_dir,
    gold_labels,
    write_bad_inputs,
)

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, images: list[Path]) -> dict[str, Path]:
    return write_bad_inputs(tmp_path_factory.mktemp("bad"), images[0])


def test_predict_path_gives_latex_in_the_model_vocabulary(predictor: Predictor, images: list[Path]):
    prediction = predictor.predict(images[1])
    assert isinstance(prediction, Prediction)
    tokens = prediction.tokens.split()
    assert tokens, "a formula image should give at least one token"
    assert all(t in predictor.vocab for t in tokens)
    assert prediction.latex.strip()
    assert prediction.score <= 0.0
    assert prediction.seconds > 0.0
    assert prediction.attention is None and prediction.verified is None


def test_path_bytes_and_pil_image_agree(predictor: Predictor, images: list[Path]):
    path = images[2]
    from_path = predictor.predict(path)
    from_bytes = predictor.predict(path.read_bytes())
    from_image = predictor.predict(Image.open(path))
    assert from_path.tokens == from_bytes.tokens == from_image.tokens
    assert from_path.score == pytest.approx(from_image.score, abs=1e-4)


def test_batch_equals_one_at_a_time(predictor: Predictor, images: list[Path]):
    """Grouping by size and padding within a group must not change any result."""
    sizes = {Image.open(p).size for p in images}
    assert len(sizes) > 1, "the test images should fall into several buckets"
    batch = predictor.predict_batch([*images, images[0]])
    single = [predictor.predict(p) for p in images]
    single.append(single[0])
    assert [r.tokens for r in batch] == [s.tokens for s in single]
    for r, s in zip(batch, single, strict=True):
        assert r.score == pytest.approx(s.score, abs=1e-3)


def _decode(predictor: Predictor, pixels: np.ndarray, beam: int):
    with torch.inference_mode():
        (hyp,) = predictor.model.decode(torch.from_numpy(pixels[None, None]), beam_size=beam)
    return hyp


@pytest.mark.parametrize("beam", [1, 5])
def test_prediction_is_the_well_formed_decoding_of_the_scale_read_most_surely(
    predictor: Predictor, images: list[Path], beam: int
):
    prediction = predictor.predict(images[0], beam_size=beam)
    inputs = prepare_inputs(images[0], predictor.limits, predictor.scale_multipliers)
    assert len(inputs.candidates) == len(predictor.scale_multipliers) > 1
    scores = [_decode(predictor, pixels, 1).score for pixels in inputs.candidates]
    chosen = inputs.candidates[int(np.argmax(scores))]
    assert np.array_equal(np.asarray(prediction.input_image), chosen)
    assert np.array_equal(predictor.model_input(images[0]), chosen)
    hyp = first_well_formed(_decode(predictor, chosen, beam), predictor.vocab)
    assert prediction.tokens == " ".join(predictor.vocab.decode(hyp.token_ids))
    assert prediction.score == pytest.approx(hyp.score, abs=1e-4)


def test_a_call_past_its_deadline_stops_instead_of_failing_its_images(
    predictor: Predictor, images: list[Path]
):
    with pytest.raises(DeadlineExceeded):
        predictor.predict_batch(images[:2], deadline=time.monotonic())


def test_one_multiplier_decodes_once_at_the_estimated_scale(
    predictor: Predictor, images: list[Path]
):
    single = Predictor(predictor.model, predictor.vocab, scale_multipliers=(1.0,))
    prediction = single.predict(images[0])
    (pixels,) = prepare_inputs(images[0], predictor.limits, (1.0,)).candidates
    estimate = np.asarray(load_user_image(images[0]))
    assert np.array_equal(pixels[: estimate.shape[0], : estimate.shape[1]], estimate)
    assert np.array_equal(np.asarray(prediction.input_image), pixels)
    hyp = first_well_formed(_decode(predictor, pixels, single.beam_size), predictor.vocab)
    assert prediction.tokens == " ".join(predictor.vocab.decode(hyp.token_ids))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty"),
        ("truncated", "truncated"),
        ("text", "not an image"),
        ("huge", "more than"),
        ("blank", "no ink"),
    ],
)
def test_bad_image_raises_a_clear_error(
    predictor: Predictor, bad: dict[str, Path], kind: str, reason: str
):
    with pytest.raises(ImageInputError, match=reason) as info:
        predictor.predict(bad[kind])
    assert bad[kind].name in str(info.value)


def test_batch_keeps_going_past_bad_items(
    predictor: Predictor, images: list[Path], bad: dict[str, Path]
):
    blank = Image.new("L", (300, 60), 255)
    sources = [images[0], bad["empty"], b"", bad["text"], images[1], blank, bad["huge"], images[2]]
    results = predictor.predict_batch(sources)
    assert [r.ok for r in results] == [True, False, False, False, True, False, False, True]
    assert "empty" in results[1].error and results[1].source == "empty.png"
    assert "no ink" in results[5].error
    for k, path in ((0, images[0]), (4, images[1]), (7, images[2])):
        assert results[k].tokens == predictor.predict(path).tokens


class _FailingImage(Image.Image):
    """An image whose metadata fails in a way no reader check foresees."""

    def getexif(self) -> Image.Exif:
        raise RuntimeError("decoder crashed")


def test_batch_survives_directories_devices_and_unforeseen_failures(
    predictor: Predictor, images: list[Path], tmp_path: Path
):
    failing = Image.new("RGB", (200, 50), "white")
    failing.__class__ = _FailingImage
    sources = [tmp_path, Path("/dev/zero"), failing, images[0]]
    results = predictor.predict_batch(sources)
    assert [r.ok for r in results] == [False, False, False, True]
    assert results[0].kind == "unreadable" and tmp_path.name in results[0].error
    assert results[1].kind == "unreadable" and "not a regular file" in results[1].error
    assert "RuntimeError: decoder crashed" in results[2].error
    assert results[3].tokens == predictor.predict(images[0]).tokens


def test_batch_names_an_input_that_is_no_image(predictor: Predictor, images: list[Path]):
    results = predictor.predict_batch([None, 42, images[0]])  # type: ignore[list-item]
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].kind == "unreadable" and "got NoneType" in results[0].error
    assert results[1].source == "input of type int" and "got int" in results[1].error


def test_concurrent_predictions_equal_sequential_ones(predictor: Predictor, images: list[Path]):
    sequential = [predictor.predict(p).tokens for p in images[:3]]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(lambda p: predictor.predict(p).tokens, images[:3] * 2))
    assert concurrent == sequential * 2


def test_attention_has_one_normalized_map_per_token(predictor: Predictor, images: list[Path]):
    prediction = predictor.predict(images[3], attention=True)
    n_tokens = len(prediction.tokens.split())
    assert prediction.attention is not None and len(prediction.attention) == n_tokens
    height, width = np.asarray(prediction.input_image).shape
    for heat in prediction.attention:
        assert heat.shape == (height // 8, width // 8)
        assert heat.min() >= 0.0
        assert heat.sum() == pytest.approx(1.0, abs=1e-3)


def test_dark_mode_screenshot_reads_like_the_original(predictor: Predictor, images: list[Path]):
    """Light ink on a dark background is inverted before the model sees it."""
    original = Image.open(images[0]).convert("L")
    dark = Image.fromarray(255 - np.asarray(original)).convert("RGB")
    buffer = io.BytesIO()
    dark.save(buffer, format="PNG")
    assert predictor.predict(buffer.getvalue()).tokens == predictor.predict(original).tokens


@pytest.mark.skipif(bundled_model_dir() is None, reason="no bundled model yet")
def test_bundled_model_reads_shared_test_images(
    predictor: Predictor, images: list[Path], im2latex_dir: Path
):
    labels = gold_labels(im2latex_dir, TEST_IMAGE_IDS)
    results = predictor.predict_batch(images)
    assert not any(isinstance(r, FailedPrediction) for r in results)
    correct = sum(r.tokens in label for r, label in zip(results, labels, strict=True))
    assert correct >= 1, [r.tokens for r in results]


def test_handwriting_is_read_at_the_scale_of_the_drawn_inks(shared_dir: Path) -> None:
    """`load_model(handwritten=True)` brings a raw CROHME test bitmap (white strokes on black,
    glyphs about twice the model's size) to the glyph height of its training drawings; the
    printed settings shrink it towards the smaller printed glyphs."""
    import tarfile

    from im2markup import load_model
    from im2markup.data.handwriting.crohme_reader import TEST_IMAGES
    from im2markup.data.handwriting.ink_render import INPUT_GLYPH_HEIGHT
    from im2markup.data.images.user_images import glyph_height

    with tarfile.open(shared_dir / TEST_IMAGES, mode="r:gz") as archive:
        bitmaps = [
            archive.extractfile(m).read()
            for m in archive.getmembers()
            if m.name.endswith("18_em_1_0.bmp") or m.name.endswith("18_em_14_0.bmp")
        ]
    handwriting = load_model(handwritten=True, scale_multipliers=(1.0,))
    assert handwriting.sheet and not handwriting.heavier_strokes
    printed = Predictor(
        handwriting.model, handwriting.vocab, scale_multipliers=(1.0,), heavier_strokes=False
    )
    for bitmap in bitmaps:
        read = glyph_height(handwriting.model_input(bitmap))
        assert read == pytest.approx(INPUT_GLYPH_HEIGHT, rel=0.15)
        assert glyph_height(printed.model_input(bitmap)) < 0.8 * read
