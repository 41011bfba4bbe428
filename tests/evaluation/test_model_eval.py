"""`im2markup evaluate --model DIR --split NAME`: a small random model on a small built dataset.

The dataset is made by the build's own split writers from real test and validation formulas
(rendered with pdflatex) and the shared images; one test formula is made to fail to render, as
31 of the real ones do, so that its item has no input image.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from im2markup.cli.main import main
from im2markup.data.corpus.build import heldout_indices
from im2markup.data.corpus.corpora import im2latex_split
from im2markup.data.corpus.split_writers import write_test, write_val
from im2markup.data.formula_images import render_formulas
from im2markup.data.images.buckets import bucket_for
from im2markup.data.render import RenderResult
from im2markup.data.shards import ShardReader
from im2markup.evaluation.model_eval import ModelEvalOptions, evaluate_model
from im2markup.evaluation.scoring import RenderOptions
from im2markup.model.io import load_model_dir
from serving_fixtures import save_random_model

pytestmark = [pytest.mark.latex, pytest.mark.shared_data]

N_TEST = 8
N_VAL = 4
UNRENDERED = 2
QUIET = RenderOptions(progress=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache of its own (renders shared by the tests of this module)."""
    path = tmp_path_factory.mktemp("model_eval")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IM2MARKUP_CACHE", str(path / "cache"))
        yield path


@pytest.fixture(scope="module")
def dataset(base: Path, shared_dir: Path) -> Path:
    """`<data>/im2latex-v1` with `test`, `test-shared` and `val` for the first items."""
    out = base / "data" / "im2latex-v1"
    out.mkdir(parents=True)

    def renders(formulas: Sequence[str], style: str) -> Iterator[RenderResult]:
        results = render_formulas(formulas, style, cache_dir=base / "cache" / "renders")
        for result in results:
            is_test = list(formulas) == test.norm[: len(formulas)]
            if style == "paper" and is_test and result.index == UNRENDERED:
                yield RenderResult(result.index, None, "Undefined control sequence (made up)")
            else:
                yield result

    test = im2latex_split("test", shared_dir)
    write_test(test, N_TEST, renders, out)
    val = im2latex_split("val", shared_dir)
    write_val(val, heldout_indices(len(val), 1000, 0)[:N_VAL], renders, out)
    (out / "manifest.json").write_text(json.dumps({"manifest_hash": "0123456789abcdef"}))
    return out


@pytest.fixture(scope="module")
def model_dir(base: Path, im2latex_dir: Path) -> Path:
    return save_random_model(base / "model", im2latex_dir / "formulas" / "test.formulas.norm.txt")


@pytest.fixture
def with_dataset(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IM2MARKUP_DATA", str(dataset.parent))
    return dataset


def read_entries(path: Path) -> dict[str, dict]:
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {entry["image"]: entry for entry in entries}


def options(**changes: object) -> ModelEvalOptions:
    return ModelEvalOptions(**{"images": False, "render": QUIET, "beam_size": 2, **changes})


def test_unrendered_formula_counts_as_a_miss_and_each_image_is_its_own_item(
    tmp_path: Path, with_dataset: Path, model_dir: Path
) -> None:
    rows, out = evaluate_model(model_dir, "test", tmp_path / "out", options(limit=N_TEST))
    (label, metrics), folder = rows[0], tmp_path / "out" / "test"
    assert label == "test" and out == tmp_path / "out"
    assert metrics["n"] == N_TEST and metrics["n_missing_input"] == 1
    assert metrics["n_missing_pred"] == 1 and metrics["n_decoded"] == N_TEST - 1
    assert metrics["dataset_manifest_hash"] == "0123456789abcdef"
    entries = read_entries(folder / "predictions.jsonl")
    assert sorted(entries) == sorted(f"{k}.png" for k in range(N_TEST))
    assert "made up" in entries[f"{UNRENDERED}.png"]["error"]
    assert f"{UNRENDERED}.png" in (folder / "problems.txt").read_text()
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]
    assert items[UNRENDERED]["pred"] is None and items[0]["pred"] is not None

    # Each item's prediction is what the model reads from that item's own image.
    model, _, vocab = load_model_dir(model_dir)
    reader = ShardReader(with_dataset / "test")
    refs = reader.labels("ref")
    outputs = set()
    for k in (0, 5, 7):
        image = reader.image(refs.index(f"test:{k}"))
        width, height = bucket_for(*image.shape)
        padded = np.full((1, 1, height, width), 255, dtype=np.uint8)
        padded[0, 0, : image.shape[0], : image.shape[1]] = image
        with torch.inference_mode():
            hyp = model.decode(torch.from_numpy(padded), beam_size=2)[0]
        assert entries[f"{k}.png"]["tokens"] == " ".join(vocab.decode(hyp.token_ids))
        outputs.add(entries[f"{k}.png"]["tokens"])
    assert len(outputs) == 3


def test_standard_attention_scores_the_whole_grid_at_every_step(
    tmp_path: Path, with_dataset: Path, model_dir: Path
) -> None:
    rows, _ = evaluate_model(model_dir, "test", tmp_path / "out", options(limit=N_TEST))
    metrics = rows[0][1]
    reader = ShardReader(with_dataset / "test")
    shapes = {
        ref: (int(h), int(w))
        for ref, h, w in zip(reader.labels("ref"), reader.heights, reader.widths, strict=True)
    }
    entries = read_entries(tmp_path / "out" / "test" / "predictions.jsonl")
    steps = cells = 0
    for name, entry in entries.items():
        if "error" in entry:
            continue
        width, height = bucket_for(*shapes[f"test:{Path(name).stem}"])
        grid = (height // 8) * (width // 8)
        assert entry["fine_cells"] == grid * entry["steps"] and entry["coarse_cells"] == 0
        steps += entry["steps"]
        cells += grid * entry["steps"]
    assert steps > 0 and metrics["attention_steps"] == steps
    assert metrics["mean_fine_cells_per_step"] == pytest.approx(cells / steps)
    assert metrics["mean_coarse_cells_per_step"] == 0
    assert metrics["decode_images_per_second"] > 0 and metrics["decode_beam"] == 2


def test_a_restarted_evaluation_decodes_only_what_is_left(
    tmp_path: Path, with_dataset: Path, model_dir: Path
) -> None:
    out = tmp_path / "out"
    first = evaluate_model(model_dir, "test", out, options(limit=4))[0][0][1]
    assert first["n_decoded_now"] == 3  # items 0, 1, 3; item 2 has no image
    predictions = out / "test" / "predictions.jsonl"
    before = predictions.read_text()
    with predictions.open("a") as stream:  # a run killed while writing item 5
        stream.write('{"image": "5.png", "tok')
    second = evaluate_model(model_dir, "test", out, options(limit=N_TEST))[0][0][1]
    assert second["n_decoded_now"] == N_TEST - 4 and second["n_decoded"] == N_TEST - 1
    after = predictions.read_text()
    assert after.startswith(before) and len(after.splitlines()) == N_TEST
    assert all(json.loads(line) for line in after.splitlines())
    fresh = evaluate_model(model_dir, "test", tmp_path / "fresh", options(limit=N_TEST))
    assert fresh[0][0][1]["edit_distance"] == second["edit_distance"]

    with pytest.raises(ValueError, match="beam_size"):
        evaluate_model(model_dir, "test", out, options(limit=N_TEST, beam_size=1))


def test_int8_decoding_is_recorded_and_never_mixed_with_float_predictions(
    tmp_path: Path, with_dataset: Path, model_dir: Path
) -> None:
    out = tmp_path / "out"
    rows = evaluate_model(model_dir, "test", out, options(limit=4))[0]
    settings = out / "test" / "decoding.json"
    assert json.loads(settings.read_text())["int8"] is False
    with pytest.raises(ValueError, match="int8"):
        evaluate_model(model_dir, "test", out, options(limit=4, int8=True))
    older = json.loads(settings.read_text())
    del older["int8"]  # as written before the setting existed: float weights
    settings.write_text(json.dumps(older))
    again = evaluate_model(model_dir, "test", out, options(limit=4))[0]
    assert again[0][1]["n_decoded_now"] == 0 and again[0][1]["bleu"] == rows[0][1]["bleu"]
    int8 = evaluate_model(model_dir, "test", tmp_path / "int8", options(limit=4, int8=True))[0]
    assert int8[0][1]["n_decoded_now"] == 3 and "--int8" in int8[0][1]["command"]
    assert json.loads((tmp_path / "int8" / "test" / "decoding.json").read_text())["int8"] is True


def test_an_unreadable_image_is_a_miss_and_its_batch_is_still_decoded(
    tmp_path: Path, dataset: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "data" / "im2latex-v1"
    shutil.copytree(dataset, copy)
    reader = ShardReader(copy / "test")
    sample = reader.labels("ref").index("test:5")
    png = reader.png(sample)
    shard = next(path for path in (copy / "test").glob("shard-*.bin") if png in path.read_bytes())
    data = bytearray(shard.read_bytes())
    offset = data.find(png)
    data[offset + 8 : offset + 64] = bytes(56)  # the PNG header chunk, zeroed
    shard.write_bytes(bytes(data))
    monkeypatch.setenv("IM2MARKUP_DATA", str(copy.parent))
    metrics = evaluate_model(model_dir, "test", tmp_path / "out", options(limit=N_TEST))[0][0][1]
    assert metrics["n"] == N_TEST and metrics["n_missing_input"] == 2
    entries = read_entries(tmp_path / "out" / "test" / "predictions.jsonl")
    assert "unreadable input image" in entries["5.png"]["error"]
    assert [k for k in range(N_TEST) if "error" not in entries[f"{k}.png"]] == [0, 1, 3, 4, 6, 7]


def test_val_is_what_the_dataset_recorded_it_held_out(
    tmp_path: Path,
    dataset: Path,
    model_dir: Path,
    shared_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = tmp_path / "data" / "im2latex-v1"
    shutil.copytree(dataset, copy)
    recorded = heldout_indices(len(im2latex_split("val", shared_dir)), 1000, 0)[1:N_VAL]
    (copy / "val-indices.txt").write_text("".join(f"{k}\n" for k in recorded))
    monkeypatch.setenv("IM2MARKUP_DATA", str(copy.parent))
    rows, _ = evaluate_model(model_dir, "val", tmp_path / "out", options(forms=("paper",)))
    assert [(label, metrics["n"], metrics["n_missing_input"]) for label, metrics in rows] == [
        ("val", len(recorded), 0)
    ]
    entries = read_entries(tmp_path / "out" / "val" / "predictions.jsonl")
    assert sorted(entries) == sorted(f"{k}.png" for k in recorded)


def test_without_a_dataset_the_loader_makes_the_same_inputs(
    tmp_path: Path, with_dataset: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built, _ = evaluate_model(model_dir, "val", tmp_path / "built", options(limit=N_VAL))
    monkeypatch.setenv("IM2MARKUP_DATA", str(tmp_path / "no-data"))
    loaded, _ = evaluate_model(model_dir, "val", tmp_path / "loaded", options(limit=N_VAL))
    assert [label for label, _ in loaded] == ["val", "val-shared"]
    for (label, metrics), (_, reference) in zip(loaded, built, strict=True):
        assert metrics["dataset_manifest_hash"] is None and metrics["n"] == N_VAL
        assert reference["dataset_manifest_hash"] == "0123456789abcdef"
        mine = read_entries(tmp_path / "loaded" / label / "predictions.jsonl")
        theirs = read_entries(tmp_path / "built" / label / "predictions.jsonl")
        assert {k: e["tokens"] for k, e in mine.items()} == {
            k: e["tokens"] for k, e in theirs.items()
        }
    assert loaded[0][1]["style"] == "paper" and loaded[1][1]["style"] == "shared"
    gold = (tmp_path / "loaded" / "val-shared" / "items.jsonl").read_text().splitlines()
    val = im2latex_split("val")
    first = heldout_indices(len(val), 1000, 0)[0]
    assert json.loads(gold[0])["gold"] == val.nospace[first]


def test_cli_scores_images_and_records_what_was_evaluated(
    tmp_path: Path, with_dataset: Path, model_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--model", str(model_dir), "--split", "test-shared", "--limit", "3"]
    assert main([*argv, "--beam", "1", "--out", str(out), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "| BLEU | edit distance | image edit distance | match | match −ws |" in table
    assert "fine cells/step | images/s |" in table
    metrics = json.loads((out / "test-shared" / "metrics.json").read_text())
    assert metrics["n"] == 3 and metrics["n_images"] == 3 and metrics["style"] == "shared"
    assert metrics["image_match"] is not None and (out / "test-shared" / "report.html").is_file()
    model, _, _ = load_model_dir(model_dir)
    assert metrics["model"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert metrics["command"] == (
        f"im2markup evaluate --model {model_dir} --split test-shared --beam 1 --batch-size 16 "
        f"--threads 1 --device cpu --dataset im2latex-v1 --out {out} --limit 3"
    )
    assert "fine cells/step" in (out / "test-shared" / "metrics.md").read_text()
    assert (out / "table.md").read_text().count("| test-shared |") == 1


def test_cli_refuses_incomplete_model_evaluations(
    model_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", "--model", str(model_dir)]) == 2
    assert "--model needs --split" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(model_dir), "--split", "test", "--form", "paper"]) == 2
    assert "--form applies to --split val only" in capsys.readouterr().err


def test_results_table_puts_each_variant_beside_the_papers_row(
    tmp_path: Path,
    base: Path,
    im2latex_dir: Path,
    with_dataset: Path,
    model_dir: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    formulas = im2latex_dir / "formulas" / "test.formulas.norm.txt"
    hard_dir = save_random_model(base / "hard-model", formulas, attention="hard")
    folders = []
    for name, directory, beam in (
        ("standard", model_dir, 2),
        ("hard", hard_dir, 2),
        ("greedy", model_dir, 1),
    ):
        evaluate_model(directory, "test", tmp_path / name, options(limit=N_TEST, beam_size=beam))
        folders.append(tmp_path / name / "test")
    assert main(["evaluate", "--table", *map(str, folders)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| model | BLEU | image edit distance | match | match −ws |")
    standard, hard, greedy = (json.loads((f / "metrics.json").read_text()) for f in folders)
    # Rows of one variant stay together, labelled by beam, and the paper's row follows once.
    assert lines[2].startswith(f"| model (seq2seq, standard, beam 2) | {standard['bleu']:.2f} |")
    assert lines[3].startswith(f"| model (seq2seq, standard, beam 1) | {greedy['bleu']:.2f} |")
    assert lines[4] == (
        "| *IM2TEX, standard (paper, quoted)* | 87.73 | — | 77.46 | 79.88 | 355 | — | — |"
    )
    assert lines[5].startswith(f"| hard-model (seq2seq, hard, beam 2) | {hard['bleu']:.2f} |")
    assert lines[6].startswith("| *IM2TEX-C2F, hard (paper, quoted)* | 87.07 |")
    assert len(lines) == 7
    # Hard attention reads one coarse block per step, so far fewer fine cells than standard.
    cells = [line.split(" | ")[5:7] for line in (lines[2], lines[5])]
    assert cells[0][1] == "—" and float(cells[1][1]) > 0
    assert float(cells[1][0]) < float(cells[0][0])

    evaluate_model(model_dir, "test-shared", tmp_path / "shared", options(limit=2))
    mixed = [str(folders[0]), str(tmp_path / "shared" / "test-shared")]
    assert main(["evaluate", "--table", *mixed]) == 2
    assert "different splits" in capsys.readouterr().err
    assert main(["evaluate", "--table", str(tmp_path)]) == 2
    assert f"{tmp_path}: no metrics.json" in capsys.readouterr().err
