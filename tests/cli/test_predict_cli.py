"""`im2markup predict` on real shared test images and on every kind of bad input."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from rapidfuzz.distance import Levenshtein

from im2markup.cli.main import main
from im2markup.data.handwriting.crohme import NORMALIZED_CROHME_TOKENS, from_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TEST_IMAGES, read_captions
from im2markup.inference.loading import HANDWRITTEN_MODEL
from im2markup.paths import models_dir
from im2markup.serving.predictor import Predictor, load_model
from serving_fixtures import (
    TEST_IMAGE_IDS,
    save_random_model,
    write_bad_inputs,
)

pytestmark = pytest.mark.shared_data


@pytest.fixture
def mixed_dir(tmp_path: Path, images: list[Path]) -> Path:
    """A folder of good shared images and every kind of bad file."""
    folder = tmp_path / "mixed"
    write_bad_inputs(folder, images[0])
    for path in images[:3]:
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not an image, and not named like one")
    return folder


def predict(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    status = main(["predict", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_one_image_prints_its_latex(
    capsys, model_dir: Path, images: list[Path], predictor: Predictor
):
    status, out, err = predict(capsys, "--model", str(model_dir), str(images[0]))
    assert status == 0, err
    assert out == predictor.predict(images[0]).latex + "\n"


def test_tokens_flag_prints_the_normalized_tokens(
    capsys, model_dir: Path, images: list[Path], predictor: Predictor
):
    status, out, _ = predict(capsys, "--model", str(model_dir), "--tokens", str(images[1]))
    assert status == 0
    assert out.strip() == predictor.predict(images[1]).tokens


def test_several_images_print_name_tab_latex_in_order(
    capsys, model_dir: Path, images: list[Path], predictor: Predictor
):
    status, out, _ = predict(capsys, "--model", str(model_dir), *map(str, images))
    assert status == 0
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in images]
    assert [line.split("\t", 1)[1] for line in lines] == [
        predictor.predict(p).latex for p in images
    ]


def test_json_lines_carry_every_field(
    capsys, model_dir: Path, images: list[Path], predictor: Predictor
):
    status, out, _ = predict(
        capsys, "--model", str(model_dir), "--json", "--beam", "1", str(images[2])
    )
    assert status == 0
    record = json.loads(out)
    assert set(record) == {"image", "latex", "tokens", "score", "seconds"}
    expected = predictor.predict(images[2], beam_size=1)
    assert record["image"] == str(images[2])
    assert (record["latex"], record["tokens"]) == (expected.latex, expected.tokens)
    assert record["score"] == pytest.approx(expected.score, abs=1e-3)
    assert record["seconds"] > 0


def test_directory_with_bad_files_still_predicts_the_good_ones(
    capsys, model_dir: Path, mixed_dir: Path
):
    (mixed_dir / "folder.png").mkdir()
    status, out, err = predict(capsys, "--model", str(model_dir), "--json", str(mixed_dir))
    assert status == 0
    records = {Path(r["image"]).name: r for r in map(json.loads, out.splitlines())}
    assert "notes.txt" not in records
    good = [f"{i}.png" for i in TEST_IMAGE_IDS[:3]]
    for name in good:
        assert records[name]["latex"] and "error" not in records[name]
    reasons = {
        "empty.png": "empty",
        "truncated.png": "truncated",
        "text.png": "not an image",
        "huge.png": "more than",
        "blank.png": "no ink",
        "folder.png": "not a regular file",
    }
    for name, reason in reasons.items():
        assert reason in records[name]["error"]
        assert records[name]["latex"] is None
        assert any(name in line and reason in line for line in err.splitlines()), err


def test_plain_output_skips_failures_and_reports_them(
    capsys, model_dir: Path, images: list[Path], tmp_path: Path
):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    status, out, err = predict(capsys, "--model", str(model_dir), str(empty), str(images[0]))
    assert status == 0
    assert out.splitlines()[0].startswith(f"{images[0]}\t")
    assert len(out.splitlines()) == 1
    assert f"{empty}: " in err and "empty" in err


def test_everything_failing_exits_with_one(capsys, model_dir: Path, tmp_path: Path):
    missing = tmp_path / "nothing-here.png"
    status, out, err = predict(
        capsys, "--model", str(model_dir), str(missing), str(tmp_path / "*.jpg")
    )
    assert status == 1
    assert out == ""
    assert "no such file" in err and "no file matches" in err


def test_glob_patterns_are_expanded(capsys, model_dir: Path, images: list[Path]):
    pattern = str(images[0].parent / "[01].png")
    status, out, _ = predict(capsys, "--model", str(model_dir), pattern)
    assert status == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(images[0]), str(images[1])]


def test_glob_reports_matches_that_are_not_files(
    capsys, model_dir: Path, images: list[Path], tmp_path: Path
):
    shutil.copy(images[0], tmp_path / "a.png")
    (tmp_path / "b.png").mkdir()
    status, out, err = predict(capsys, "--model", str(model_dir), str(tmp_path / "*.png"))
    assert status == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(tmp_path / "a.png")]
    assert f"{tmp_path / 'b.png'}: not a regular file" in err


def test_stdin_dash_reads_image_bytes(
    capsys, monkeypatch, model_dir: Path, images: list[Path], predictor: Predictor
):
    fake_stdin = io.TextIOWrapper(io.BytesIO(images[3].read_bytes()))
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    status, out, _ = predict(capsys, "--model", str(model_dir), "-")
    assert status == 0
    assert out.strip() == predictor.predict(images[3]).latex


def test_oversized_stdin_is_read_only_past_the_limit(
    capsys, monkeypatch, model_dir: Path, predictor: Predictor
):
    limit = predictor.limits.max_bytes
    stream = io.BytesIO(b"\x89PNG" + bytes(2 * limit))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
    status, out, err = predict(capsys, "--model", str(model_dir), "-")
    assert status == 1 and out == ""
    assert "-: " in err and f"limit of {limit}" in err
    assert stream.tell() == limit + 1


def test_missing_model_directory_is_a_clear_error(capsys, tmp_path: Path, images: list[Path]):
    status, _, err = predict(capsys, "--model", str(tmp_path / "no-model"), str(images[0]))
    assert status == 2
    assert "no-model" in err


def test_model_path_that_is_a_file_is_a_clear_error(capsys, model_dir: Path, images: list[Path]):
    weights = next(model_dir.glob("*.safetensors"))
    status, _, err = predict(capsys, "--model", str(weights), str(images[0]))
    assert status == 2
    assert "im2markup predict: model:" in err and weights.name in err


def test_installed_command_runs(model_dir: Path, images: list[Path], predictor: Predictor):
    command = Path(sys.executable).parent / "im2markup"
    done = subprocess.run(
        [str(command), "predict", "--model", str(model_dir), str(images[4])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == predictor.predict(images[4]).latex


def test_crohme_flag_keeps_to_crohme_symbols(capsys, model_dir: Path, images: list[Path]):
    status, free, _ = predict(capsys, "--model", str(model_dir), "--tokens", *map(str, images))
    assert status == 0
    status, kept, _ = predict(
        capsys, "--model", str(model_dir), "--tokens", "--crohme", *map(str, images)
    )
    assert status == 0
    free_tokens = {t for line in free.splitlines() for t in line.split("\t")[1].split()}
    kept_tokens = {t for line in kept.splitlines() for t in line.split("\t")[1].split()}
    assert free_tokens - NORMALIZED_CROHME_TOKENS  # these printed formulas need more symbols
    assert kept_tokens and kept_tokens <= NORMALIZED_CROHME_TOKENS


def test_single_scale_flag_decodes_once_at_the_estimate(
    capsys, model_dir: Path, images: list[Path], predictor: Predictor
):
    status, out, err = predict(capsys, "--model", str(model_dir), "--single-scale", str(images[2]))
    assert status == 0, err
    single = Predictor(predictor.model, predictor.vocab, scale_multipliers=(1.0,))
    assert out == single.predict(images[2]).latex + "\n"


def test_fp32_flag_decodes_with_the_float_weights(capsys, model_dir: Path, images: list[Path]):
    argv = ("--model", str(model_dir), "--fp32", "--json", str(images[1]))
    status, out, err = predict(capsys, *argv)
    assert status == 0, err
    float_model = load_model(model_dir, int8=False)
    assert type(float_model.model.decoder.cell) is torch.nn.LSTMCell
    expected = float_model.predict(images[1])
    assert json.loads(out)["tokens"] == expected.tokens
    assert json.loads(out)["score"] == pytest.approx(expected.score, abs=1e-4)


def test_handwritten_flag_picks_the_handwriting_model_beside_the_printed_one(
    capsys,
    model_dir: Path,
    im2latex_dir: Path,
    images: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """With a printed and a handwriting model bundled, plain `predict` keeps the printed one
    and `--handwritten` takes the other, read the way `--model <it> --handwritten` reads."""
    models = tmp_path / "models"
    shutil.copytree(model_dir, models / "printed")
    handwriting = models / "im2tex-handwritten"
    save_random_model(handwriting, im2latex_dir / "formulas" / "val.formulas.norm.txt")
    monkeypatch.setenv("IM2MARKUP_MODELS", str(models))
    status, printed, err = predict(capsys, "--tokens", *map(str, images))
    assert status == 0, err
    status, written, err = predict(capsys, "--tokens", "--handwritten", *map(str, images))
    assert status == 0, err
    _, expected, _ = predict(
        capsys, "--model", str(handwriting), "--tokens", "--handwritten", *map(str, images)
    )
    _, own, _ = predict(capsys, "--model", str(model_dir), "--tokens", *map(str, images))
    assert written == expected and written != printed and printed == own
    shutil.rmtree(models / "im2tex-handwritten")
    status, _, err = predict(capsys, "--handwritten", str(images[0]))
    assert status == 2 and "no bundled handwriting model" in err


@pytest.mark.skipif(
    not (models_dir() / HANDWRITTEN_MODEL / "model.safetensors").is_file(),
    reason="no bundled handwriting model",
)
def test_handwriting_model_reads_real_crohme_bitmaps(
    capsys, shared_dir: Path, tmp_path: Path, model_dir: Path
):
    """The bundled handwriting model, on raw CROHME 2014 test bitmaps (white on black) read
    through the user-image path, gets some expressions exactly right and is much closer to
    the captions than the printed model."""
    captions = dict(read_captions(shared_dir / TEST_CAPTIONS)[:24])
    with tarfile.open(shared_dir / TEST_IMAGES, mode="r:gz") as archive:
        for member in archive:
            sample_id = Path(member.name).stem.removesuffix("_0")
            if member.isfile() and sample_id in captions:
                (tmp_path / f"{sample_id}.bmp").write_bytes(archive.extractfile(member).read())
    files = sorted(str(p) for p in tmp_path.glob("*.bmp"))
    assert len(files) == len(captions)

    def read(*flags: str) -> dict[str, list[str]]:
        status, out, err = predict(capsys, "--tokens", *flags, *files)
        assert status == 0, err
        lines = (line.split("\t") for line in out.splitlines())
        return {Path(name).stem: from_normalized(tokens.split()) for name, tokens in lines}

    def distance(read_back: dict[str, list[str]]) -> int:
        return sum(Levenshtein.distance(read_back[k], gold) for k, gold in captions.items())

    handwritten = read("--handwritten")
    printed = read("--model", str(model_dir), "--crohme")
    exact = sum(handwritten[k] == gold for k, gold in captions.items())
    assert exact >= 1, handwritten
    assert distance(handwritten) < 0.7 * distance(printed)
