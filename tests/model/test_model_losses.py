"""Training losses: token NLL with label smoothing and counts; CTC; concurrent decoding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F

from im2markup.data.vocab import PAD_ID, Vocab
from im2markup.model.config import preset
from im2markup.model.factory import build_model
from im2markup.training.token_weights import spacing_token_weights
from model_samples import make_batch

VOCAB = Vocab(["a", "b", "c", "d"])


def random_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (3, 1, 32, 80), dtype=torch.uint8, generator=generator)
    return make_batch(images, ["a b c", "d", "a a b b c"], VOCAB)


def test_seq2seq_loss_is_mean_token_nll_with_label_smoothing() -> None:
    batch = random_batch()
    torch.manual_seed(0)
    model = build_model(preset("tiny", label_smoothing=0.1), len(VOCAB)).eval()
    out = model.training_loss(batch)
    logits, _ = model.decoder.teacher_force(batch["tgt"][:, :-1], model.encode(batch["images"]))
    targets = batch["tgt"][:, 1:]
    expected = F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID, label_smoothing=0.1
    )
    torch.testing.assert_close(out.loss, expected)
    plain = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID)
    assert out.stats["nll"] == pytest.approx(plain.item(), rel=1e-5)
    assert out.stats["loss_smoothed"] == pytest.approx(expected.item(), rel=1e-5)
    assert out.stats["nll"] != pytest.approx(out.stats["loss_smoothed"])
    assert out.n_tokens == 3 + 1 + 5 + 3  # tokens plus one <eos> each
    correct = ((logits.argmax(-1) == targets) & (targets != PAD_ID)).sum()
    assert out.n_correct == int(correct)


def test_ctc_loss_matches_torch_and_decodes_without_specials() -> None:
    batch = random_batch()
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch="ctc"), len(VOCAB)).eval()
    out = model.training_loss(batch)
    log_probs = model.frame_log_probs(batch["images"])
    # 80 px → 10 columns, 2 frames each.
    assert log_probs.shape == (3, 20, len(VOCAB))
    targets = [
        torch.tensor(VOCAB.encode(f, add_bos_eos=False)) for f in ["a b c", "d", "a a b b c"]
    ]
    expected = (
        F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.cat(targets),
            torch.full((3,), 20),
            torch.tensor([3, 1, 5]),
            reduction="sum",
        )
        / 9
    )
    torch.testing.assert_close(out.loss, expected)
    assert out.n_tokens == 9
    for beam_size in (1, 4):
        for hyp in model.decode(batch["images"], beam_size=beam_size):
            assert all(t >= 3 for t in hyp.token_ids)
            assert hyp.attention is None


def test_ctc_targets_too_long_for_the_image_leave_the_mean_and_are_counted() -> None:
    """40 px give 5 columns × 2 frames = 10 frames: "a a a a a" needs 5 + 4 blanks = 9 and
    fits, "a a a a a a" needs 11 and does not, though it has fewer tokens than frames."""
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (3, 1, 32, 40), dtype=torch.uint8, generator=generator)
    formulas = ["a a a a a", "a a a a a a", "b c"]
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch="ctc"), len(VOCAB)).eval()
    out = model.training_loss(make_batch(images, formulas, VOCAB))
    log_probs = model.frame_log_probs(images)
    assert log_probs.size(1) == 10
    fitting = [0, 2]
    expected = F.ctc_loss(
        log_probs[fitting].transpose(0, 1),
        torch.tensor(VOCAB.encode("a a a a a b c", add_bos_eos=False)),
        torch.full((2,), 10),
        torch.tensor([5, 2]),
        reduction="sum",
    ) / (5 + 2)
    torch.testing.assert_close(out.loss, expected)
    assert out.stats["ctc_unalignable"] == 1
    assert out.n_tokens == 5 + 6 + 2


def test_decoding_is_reentrant_across_threads() -> None:
    torch.manual_seed(0)
    model = build_model(preset("tiny", attention="sparsemax"), len(VOCAB)).eval()
    batches = [random_batch(seed)["images"] for seed in range(4)]
    sequential = [[h.token_ids for h in model.decode(b, beam_size=2, max_len=15)] for b in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(
            pool.map(
                lambda b: [h.token_ids for h in model.decode(b, beam_size=2, max_len=15)], batches
            )
        )
    assert parallel == sequential


@pytest.mark.shared_data
def test_spacing_weight_multiplies_the_loss_of_spacing_targets(im2latex_dir) -> None:
    lines = (im2latex_dir / "formulas" / "val.formulas.norm.txt").read_text().splitlines()
    formula = next(f for f in lines if " \\, " in f and " \\quad " in f and len(f.split()) < 40)
    vocab = Vocab(sorted(set(formula.split())))
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1, 1, 32, 160), dtype=torch.uint8, generator=generator)
    batch = make_batch(images, [formula], vocab)
    torch.manual_seed(0)
    model = build_model(preset("tiny"), len(vocab)).eval()
    plain = model.training_loss(batch)
    weights = spacing_token_weights(vocab, 3.0)
    spaces = [vocab.encode([t], add_bos_eos=False)[0] for t in ("\\,", "\\quad")]
    assert weights[spaces].tolist() == [3.0, 3.0] and weights.sum() == len(vocab) + 2 * 2.0
    model.set_token_weights(weights)
    weighted = model.training_loss(batch)

    logits, _ = model.decoder.teacher_force(batch["tgt"][:, :-1], model.encode(batch["images"]))
    targets = batch["tgt"][:, 1:].flatten()
    each = F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=PAD_ID, reduction="none")
    on_spaces = torch.isin(targets, torch.tensor(spaces))
    assert int(on_spaces.sum()) == formula.split().count("\\,") + formula.split().count("\\quad")
    expected = (each.sum() + 2.0 * each[on_spaces].sum()) / plain.n_tokens
    torch.testing.assert_close(weighted.loss, expected)
    assert weighted.stats["nll"] == pytest.approx(plain.stats["nll"], rel=1e-5)


def test_spacing_weight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="spacing_weight"):
        preset("tiny", spacing_weight=0.0)
