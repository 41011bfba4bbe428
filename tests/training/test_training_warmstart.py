"""`--init`: committed weights into a new run, rows of token-indexed tensors mapped by token."""

from pathlib import Path

import pytest
import torch

from im2markup.data.vocab import Vocab
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.model.io import save_model
from im2markup.training.config_files import load_config
from im2markup.training.session import train_run
from im2markup.training.warmstart import token_dims, transfer_weights
from training_fixtures import DATASET, data_overrides, make_dataset

OLD = Vocab(["x", "y", "z", "\\alpha", "+", "=", "{", "}", "^"])
# Reordered, "z" and "\alpha" dropped, "\beta" and "-" new.
NEW = Vocab(["=", "+", "^", "}", "{", "\\beta", "y", "x", "-"])


def test_token_dims_finds_the_embedding_and_output_layers() -> None:
    cfg = load_config("debug").model
    assert token_dims(cfg, 50) == {
        "decoder.embed.weight": (0, 1),
        "decoder.out.weight": (0, 1),
        "decoder.out.bias": (0, 1),
    }


def test_ctc_output_rows_follow_their_token_in_every_frame() -> None:
    """The CTC output holds one vocabulary-sized block per frame of a column (frame-major)."""
    cfg = preset("tiny", arch="ctc", ctc_frames_per_column=2)
    assert token_dims(cfg, 50)["out.weight"] == (0, 2)
    torch.manual_seed(0)
    old = build_model(cfg, len(OLD))
    new = build_model(cfg, len(NEW))
    report = transfer_weights(new, cfg, old.state_dict(), OLD, NEW)
    assert sorted(report.mapped) == ["out.bias", "out.weight"]
    old_out, new_out = old.state_dict()["out.weight"], new.state_dict()["out.weight"]
    for frame in range(2):
        for token in set(NEW.itos) & set(OLD.itos):
            row = new_out[frame * len(NEW) + NEW.stoi[token]]
            assert torch.equal(row, old_out[frame * len(OLD) + OLD.stoi[token]]), (frame, token)


def test_rows_follow_their_token_and_new_tokens_keep_fresh_rows() -> None:
    cfg = load_config("debug").model
    torch.manual_seed(0)
    old = build_model(cfg, len(OLD))
    torch.manual_seed(1)
    new = build_model(cfg, len(NEW))
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    report = transfer_weights(new, cfg, old.state_dict(), OLD, NEW)
    assert sorted(report.mapped) == [
        "decoder.embed.weight",
        "decoder.out.bias",
        "decoder.out.weight",
    ]
    assert report.new_tokens == ["\\beta", "-"] and report.tokens_found == len(NEW) - 2
    assert report.fresh == [] and report.ignored == []
    old_state, new_state = old.state_dict(), new.state_dict()
    for name in report.mapped:
        for token in NEW.itos:
            row = new_state[name][NEW.stoi[token]]
            if token in OLD:
                assert torch.equal(row, old_state[name][OLD.stoi[token]]), (name, token)
            else:
                assert torch.equal(row, fresh[name][NEW.stoi[token]]), (name, token)
    for name in report.copied:
        assert torch.equal(new_state[name], old_state[name]), name
    assert "2 new tokens with fresh rows: \\beta -" in report.summary()


def test_tensors_of_another_shape_stay_fresh_and_are_reported() -> None:
    small = load_config("debug").model
    wider = small.replace(decoder_hidden=48)
    old = build_model(small, len(OLD))
    new = build_model(wider, len(OLD))
    report = transfer_weights(new, wider, old.state_dict(), OLD, OLD)
    assert report.copied and report.fresh
    assert all("→" in entry for entry in report.fresh)
    assert "decoder.embed.weight" in report.copied  # embedding size did not change


@pytest.mark.shared_data
def test_init_warm_starts_a_run_and_logs_the_mapping(
    tmp_path: Path, im2latex_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2MARKUP_RUNS", str(tmp_path / "runs"))
    data_root = make_dataset(tmp_path / "data", im2latex_dir)
    target = Vocab.load(data_root / DATASET / "vocab.txt")
    source_vocab = Vocab([*target.tokens[::-1][:-3], "\\unseen"])
    cfg = load_config("debug").model
    source = build_model(cfg, len(source_vocab))
    save_model(source, cfg, source_vocab, tmp_path / "committed")

    train_run(
        "warm",
        "debug",
        [*data_overrides(data_root), "train.max_steps=1", "train.val_every_steps=0"],
        init=tmp_path / "committed",
    )
    log = (tmp_path / "runs" / "warm" / "train.log").read_text(encoding="utf-8")
    assert f"warm start from {tmp_path / 'committed'}" in log
    assert f"{len(target) - 3} tokens found, 3 new tokens with fresh rows" in log


@pytest.mark.parametrize(
    ("name", "fresh_prefixes"),
    [
        ("small_hierarchical", ("coarse_", "decoder.attention.coarse_scorer.")),
        ("small_sparsemax", ("coarse_", "decoder.attention.coarse_scorer.")),
        ("small_cnn_only", ()),
        ("small_ctc", ("rnn.", "out.")),
    ],
)
def test_small_variants_start_from_the_small_standard_model(
    name: str, fresh_prefixes: tuple[str, ...]
) -> None:
    """The variant table warm-starts each variant from the trained small model: everything the
    two architectures share must be copied, and only the variant's own parts start fresh."""
    standard = load_config("small").model
    variant = load_config(name).model
    source = build_model(standard, len(OLD)).state_dict()
    model = build_model(variant, len(OLD))
    report = transfer_weights(model, variant, source, OLD, OLD)
    assert "cnn.net.0.weight" in report.copied
    fresh = [entry.split(" ")[0] for entry in report.fresh]
    assert all(entry.startswith(fresh_prefixes) for entry in fresh), fresh
    assert bool(fresh) == bool(fresh_prefixes)
    state = model.state_dict()
    for key in [k for k in state if k.startswith("decoder.attention.fine_scorer.")]:
        scorer = key.replace("fine_scorer", "scorer")
        assert torch.equal(state[key], source[scorer]) and scorer not in report.ignored
