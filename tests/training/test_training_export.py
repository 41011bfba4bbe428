"""`im2markup train --export`: a run's best weights as a shippable bf16 model with provenance."""

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from im2markup.model.io import load_model_dir
from im2markup.training.config_files import load_config
from im2markup.training.export import CARD, average_models, export_run, model_card
from im2markup.training.runs import RunError, run_path
from im2markup.training.session import train_run
from training_fixtures import data_overrides, make_dataset


@pytest.mark.shared_data
def test_export_ships_the_best_weights_in_bf16_with_their_provenance(
    tmp_path: Path, im2latex_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path / "runs"))
    data_root = make_dataset(tmp_path / "data", im2latex_dir)
    overrides = [*data_overrides(data_root), "train.max_steps=4", "train.val_every_steps=2"]
    train_run("tiny-run", "debug", [*overrides, "train.val_match_samples=8"])
    run_dir = run_path("tiny-run")

    out = export_run(run_dir, tmp_path / "shipped")

    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    meta = config["metadata"]
    best = torch.load(run_dir / "checkpoints/last.pt", weights_only=True)["best"]
    assert config["dtype"] == "bfloat16" and meta["run"] == "tiny-run"
    assert meta["step"] == best["step"] in (2, 4)
    assert meta["validation"]["perplexity"] == pytest.approx(best["result"]["perplexity"])
    assert meta["images_seen"] > 0 and meta["data"]["name"] == "tiny"
    weights = load_file(str(out / "model.safetensors"))
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.bfloat16}
    source = load_file(str(run_dir / "best/model.safetensors"))
    for key, value in source.items():
        if value.is_floating_point():
            assert torch.equal(weights[key], value.to(torch.bfloat16)), key
    model, _, vocab = load_model_dir(out)
    assert len(vocab) == meta["vocab_size"]
    assert sum(p.numel() for p in model.parameters()) == meta["parameters"]
    card = (out / CARD).read_text(encoding="utf-8")
    assert f"selected at step {meta['step']}" in card and "tiny-run" in card
    assert "`im2markup data build`" in card and "Typeset formulas" in card
    assert "bidirectional row encoder" in card and "attention and input feeding" in card
    for config, says in (("small_ctc", "The CTC baseline"), ("small_cnn_only", "no row encoder")):
        other = model_card(config, meta, load_config(config).model)
        assert says in other and ("input feeding" in other) == (config != "small_ctc")

    # A model trained on handwriting drawings gets the handwriting card.
    drawings = {"samples": 48, "by_source_style": {"crohme-train/handwritten": 48}}
    manifest = {"manifest_hash": "0123", "splits": {"train": drawings}}
    (data_root / "tiny" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    written = export_run(run_dir, tmp_path / "written")
    assert json.loads((written / "config.json").read_text())["metadata"]["data"]["styles"] == [
        "handwritten"
    ]
    card = (written / CARD).read_text(encoding="utf-8")
    assert "build-handwritten" in card and "CROHME test caption" in card
    assert "Typeset formulas" not in card

    # Pairs from verified pseudo-labels are counted by style on the card.
    printed = {
        "im2latex-val/paper": 40,
        "pseudo-label/shared-image": 5,
        "pseudo-label:round1.tsv/shared": 3,
        "pseudo-label:round2.tsv/shared": 2,
    }
    train = {"samples": 50, "by_source_style": printed}
    manifest = {"manifest_hash": "4567", "splits": {"train": train}}
    (data_root / "tiny" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    written = export_run(run_dir, tmp_path / "pseudo")
    pseudo_meta = json.loads((written / "config.json").read_text())["metadata"]
    assert pseudo_meta["data"]["pseudo_label_samples"] == {"shared-image": 5, "shared": 5}
    card = (written / CARD).read_text(encoding="utf-8")
    assert "by style: 5 shared, 5 shared-image." in card and "Typeset formulas" in card
    assert "pseudo-label" not in (out / CARD).read_text(encoding="utf-8")

    # Weights saved without their provenance: the validation row the trainer ranks first.
    best_config = run_dir / "best" / "config.json"
    saved = json.loads(best_config.read_text(encoding="utf-8"))
    assert saved["metadata"]["step"] == meta["step"]
    best_config.write_text(json.dumps({**saved, "metadata": {}}), encoding="utf-8")
    again = json.loads((export_run(run_dir, tmp_path / "again") / "config.json").read_text())
    assert again["metadata"]["step"] == meta["step"]
    assert again["metadata"]["images_seen"] == meta["images_seen"]
    for key in ("perplexity", "token_accuracy", "exact_match", "bleu"):
        assert again["metadata"]["validation"][key] == pytest.approx(
            meta["validation"][key], abs=1e-3
        )


def test_export_of_a_run_without_checkpoint_names_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="run empty has no checkpoint"):
        export_run(tmp_path / "empty", tmp_path / "out")


@pytest.mark.shared_data
def test_export_can_ship_the_mean_of_runs_of_one_model(
    tmp_path: Path, im2latex_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path / "runs"))
    two_steps = ["train.max_steps=2", "train.val_every_steps=2", "train.val_match_samples=8"]
    overrides = [*data_overrides(make_dataset(tmp_path / "data", im2latex_dir)), *two_steps]
    train_run("a", "debug", overrides)
    train_run("b", "debug", [*overrides, "train.seed=7"])

    out = export_run(run_path("a"), tmp_path / "soup", average_with=[run_path("b")])

    meta = json.loads((out / "config.json").read_text(encoding="utf-8"))["metadata"]
    assert [o["run"] for o in meta["averaged_with"]] == ["b"] and meta["validation"] == {}
    weights = load_file(str(out / "model.safetensors"))
    first = load_file(str(run_path("a") / "best/model.safetensors"))
    second = load_file(str(run_path("b") / "best/model.safetensors"))
    floats = [key for key, value in first.items() if value.is_floating_point()]
    assert any(not torch.equal(first[key], second[key]) for key in floats)
    for key in floats:
        mean = ((first[key].float() + second[key].float()) / 2).to(torch.bfloat16)
        assert torch.equal(weights[key], mean), key
    card = (out / CARD).read_text(encoding="utf-8")
    assert "element-wise mean" in card and "`b` step 2" in card

    train_run("c", "debug", [*overrides, "model.embed_dim=12"])
    with pytest.raises(RunError, match="another model or vocabulary"):
        export_run(run_path("a"), tmp_path / "mixed", average_with=[run_path("c")])

    shipped = [export_run(run_path(name), tmp_path / f"shipped-{name}") for name in "abc"]
    soup = average_models(shipped[:2], tmp_path / "model-soup")
    meta = json.loads((soup / "config.json").read_text(encoding="utf-8"))["metadata"]
    assert meta["run"] == "a" and meta["validation"] == {}
    assert [o["run"] for o in meta["averaged_with"]] == ["b"]
    weights = load_file(str(soup / "model.safetensors"))
    first, second = (load_file(str(d / "model.safetensors")) for d in shipped[:2])
    for key in floats:
        mean = ((first[key].float() + second[key].float()) / 2).to(torch.bfloat16)
        assert torch.equal(weights[key], mean), key
    assert "--average" in (soup / CARD).read_text(encoding="utf-8")
    soup_of_soups = average_models([shipped[1], soup], tmp_path / "soup-of-soups")
    meta = json.loads((soup_of_soups / "config.json").read_text(encoding="utf-8"))["metadata"]
    (inner,) = meta["averaged_with"]
    assert inner["run"] == "a" and [o["run"] for o in inner["averaged_with"]] == ["b"]
    card = (soup_of_soups / CARD).read_text(encoding="utf-8")
    assert re.search(r"`a` step 2 \(\d+ images\) \(itself the mean with `b` step 2", card)
    with pytest.raises(RunError, match="another model or vocabulary"):
        average_models([shipped[0], shipped[2]], tmp_path / "model-mixed")
