"""Greedy and beam search against hand-computed cases, and beam 1 against greedy."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from im2markup.data.vocab import BOS_ID, EOS_ID
from im2markup.model.attention import AttentionMemory, AttentionOutput
from im2markup.model.base import SearchBounds
from im2markup.model.beam import beam_search
from im2markup.model.config import preset
from im2markup.model.ctc_search import greedy_collapse, prefix_beam_search
from im2markup.model.deadline import DeadlineExceeded
from im2markup.model.decoder import StepResult
from im2markup.model.decoding import greedy_search
from im2markup.model.factory import build_model
from model_samples import load_val_images

A, B = 4, 5  # token ids of a two-letter language; 0–3 are the specials.
VOCAB = 6


@dataclass(frozen=True)
class StubState:
    """The previous token and the step number of every row."""

    previous: torch.Tensor
    step: torch.Tensor

    def select(self, index: torch.Tensor) -> StubState:
        return StubState(self.previous[index], self.step[index])


class BigramStepper:
    """p(next | previous) from a table; every row of the memory may end at its own length."""

    def __init__(self, table: dict[int, dict[int, float]]):
        self.log_probs = torch.full((VOCAB, VOCAB), -math.inf)
        for previous, row in table.items():
            for token, p in row.items():
                self.log_probs[previous, token] = math.log(p)

    def init_state(self, memory: AttentionMemory) -> StubState:
        n = memory.batch_size
        return StubState(torch.full((n,), BOS_ID), torch.zeros(n, dtype=torch.long))

    def step(self, tokens: torch.Tensor, state: StubState, memory: AttentionMemory) -> StepResult:
        log_probs = self.log_probs[tokens].clone()
        # Rows whose memory says "stop at step L" put nearly all mass on <eos> from then on.
        stop = memory.fine_values[:, 0, 0].long()
        ending = state.step >= stop
        log_probs[ending] = torch.log(torch.tensor([1e-9, 1e-9, 0.9, 1e-9, 0.05, 0.05]))
        n = tokens.size(0)
        attention = AttentionOutput(
            context=torch.zeros(n, 1),
            weights=torch.ones(n, 1, 1),
            coarse_weights=None,
            n_fine=torch.ones(n, dtype=torch.long),
            n_coarse=torch.zeros(n, dtype=torch.long),
        )
        return StepResult(log_probs, StubState(tokens, state.step + 1), attention)


def stub_memory(stops: list[int]) -> AttentionMemory:
    values = torch.tensor(stops, dtype=torch.float).view(-1, 1, 1)
    return AttentionMemory(fine_shape=(1, 1), fine_values=values, fine_keys=values)


# Greedy takes "a" (0.5) and then stops (0.4): p = 0.2. The beam finds "b" <eos>: 0.4 · 0.9.
TABLE = {
    BOS_ID: {A: 0.5, B: 0.4, EOS_ID: 0.1},
    A: {A: 0.3, B: 0.3, EOS_ID: 0.4},
    B: {EOS_ID: 0.9, A: 0.05, B: 0.05},
}
NEVER = [100]


def test_greedy_follows_the_arg_max() -> None:
    (hyp,) = greedy_search(BigramStepper(TABLE), stub_memory(NEVER), max_len=10)
    assert hyp.token_ids == [A]
    assert hyp.score == pytest.approx(math.log(0.5 * 0.4))
    assert hyp.n_fine_cells == [1]


def test_beam_finds_the_better_sequence_and_its_n_best() -> None:
    (hyp,) = beam_search(BigramStepper(TABLE), stub_memory(NEVER), beam_size=2, max_len=10)
    assert hyp.token_ids == [B]
    assert hyp.score == pytest.approx(math.log(0.4 * 0.9))
    assert [h.token_ids for h in hyp.n_best] == [[B], [A]]
    assert [h.score for h in hyp.n_best] == pytest.approx([math.log(0.36), math.log(0.2)])


def test_length_penalty_divides_by_length() -> None:
    (hyp,) = beam_search(
        BigramStepper(TABLE), stub_memory(NEVER), beam_size=2, max_len=10, length_penalty=1.0
    )
    # Two steps each ("b", <eos>) and ("a", <eos>).
    assert [h.score for h in hyp.n_best] == pytest.approx([math.log(0.36) / 2, math.log(0.2) / 2])


def test_greedy_length_penalty_and_bad_arguments() -> None:
    (hyp,) = greedy_search(BigramStepper(TABLE), stub_memory(NEVER), max_len=10, length_penalty=1)
    assert hyp.score == pytest.approx(math.log(0.2) / 2)
    with pytest.raises(ValueError, match="max_len"):
        greedy_search(BigramStepper(TABLE), stub_memory(NEVER), max_len=0)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(BigramStepper(TABLE), stub_memory(NEVER), beam_size=0, max_len=5)


def test_max_len_cuts_hypotheses_that_never_end() -> None:
    table = {
        BOS_ID: {A: 0.5, EOS_ID: 0.4, B: 0.1},
        A: {A: 0.9, B: 0.06, EOS_ID: 0.04},
        B: {A: 0.9, B: 0.06, EOS_ID: 0.04},
    }
    (greedy,) = greedy_search(BigramStepper(table), stub_memory(NEVER), max_len=3)
    assert greedy.token_ids == [A, A, A]
    assert greedy.score == pytest.approx(math.log(0.5 * 0.9 * 0.9))
    (beam,) = beam_search(BigramStepper(table), stub_memory(NEVER), beam_size=2, max_len=3)
    # The finished "" (0.4) ranks before the cut "a a a" (0.405) although it scores lower.
    assert [h.token_ids for h in beam.n_best] == [[], [A, A, A]]
    assert [h.score for h in beam.n_best] == pytest.approx([math.log(0.4), math.log(0.405)])


@pytest.mark.parametrize("beam_size", [1, 3])
def test_rows_that_finish_early_leave_the_batch_without_disturbing_others(beam_size: int) -> None:
    table = {BOS_ID: {A: 0.9, B: 0.1}, A: {A: 0.9, B: 0.1}, B: {A: 0.9, B: 0.1}}
    stops = [3, 1, 6, 2, 4]
    search = greedy_search if beam_size == 1 else beam_search
    kwargs = {} if beam_size == 1 else {"beam_size": beam_size}
    hyps = search(BigramStepper(table), stub_memory(stops), max_len=20, **kwargs)
    assert [h.token_ids for h in hyps] == [[A] * n for n in stops]
    for hyp, n in zip(hyps, stops, strict=True):
        assert hyp.score == pytest.approx(n * math.log(0.9) + math.log(0.9), abs=1e-6)


def test_a_row_below_its_floor_stops_there_and_the_others_run_on() -> None:
    table = {BOS_ID: {A: 0.9, B: 0.1}, A: {A: 0.9, B: 0.1}, B: {A: 0.9, B: 0.1}}
    stops = [3, 8, 8]
    # Row 1 may not fall below 2.5 steps' worth of 0.9: it is given up at its third token.
    floor = torch.tensor([-math.inf, 2.5 * math.log(0.9), -math.inf], dtype=torch.float64)
    bounds = SearchBounds(floor=floor)
    hyps = greedy_search(BigramStepper(table), stub_memory(stops), max_len=20, bounds=bounds)
    assert [h.token_ids for h in hyps] == [[A] * 3, [A] * 2, [A] * 8]
    assert hyps[1].score == -math.inf
    assert hyps[2].score == pytest.approx(9 * math.log(0.9), abs=1e-6)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_a_search_past_its_deadline_stops(beam_size: int) -> None:
    table = {BOS_ID: {A: 0.9, B: 0.1}, A: {A: 0.9, B: 0.1}, B: {A: 0.9, B: 0.1}}
    search = greedy_search if beam_size == 1 else beam_search
    kwargs = {} if beam_size == 1 else {"beam_size": beam_size}
    bounds = SearchBounds(deadline=time.monotonic() - 1)
    with pytest.raises(DeadlineExceeded):
        search(BigramStepper(table), stub_memory(NEVER), max_len=20, bounds=bounds, **kwargs)


@pytest.fixture(scope="module")
def real_images(im2latex_dir: Path) -> torch.Tensor:
    return load_val_images(im2latex_dir, (416, 4130, 4244))


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("arch", "attention"),
    [
        ("seq2seq", "standard"),
        ("seq2seq", "sparsemax"),
        ("seq2seq", "hard"),
        ("cnn_only", "hierarchical"),
    ],
)
def test_beam_one_equals_greedy_on_real_images(
    arch: str, attention: str, real_images: torch.Tensor
) -> None:
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch=arch, attention=attention), 30).eval()
    greedy = model.decode(real_images, beam_size=1, max_len=25)
    beam = beam_search(model, model.encode(real_images), beam_size=1, max_len=25)
    for g, b in zip(greedy, beam, strict=True):
        assert g.token_ids == b.token_ids
        assert g.score == pytest.approx(b.score, abs=1e-4)


@pytest.mark.shared_data
def test_kept_attention_has_one_distribution_per_token(real_images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = build_model(preset("tiny", attention="hierarchical"), 30).eval()
    for beam_size in (1, 3):
        hyps = model.decode(real_images, beam_size=beam_size, max_len=12, keep_attention=True)
        for hyp in hyps:
            n = len(hyp.token_ids)
            assert hyp.attention.shape == (n, 6, 15)
            assert hyp.coarse_attention.shape == (n, 2, 4)
            torch.testing.assert_close(hyp.attention.sum((1, 2)), torch.ones(n))
            assert hyp.n_fine_cells == [90] * n
        plain = model.decode(real_images, beam_size=beam_size, max_len=12)
        assert [h.token_ids for h in plain] == [h.token_ids for h in hyps]
        assert plain[0].attention is None


def test_greedy_collapse_merges_repeats_and_drops_blanks() -> None:
    paths = torch.tensor([[0, 4, 4, 0, 4, 5, 5, 0], [5, 0, 0, 0, 0, 0, 0, 4]])
    assert greedy_collapse(paths, blank=0).tolist() == [
        [4, 4, 5, 0, 0, 0, 0, 0],
        [5, 4, 0, 0, 0, 0, 0, 0],
    ]


def test_prefix_beam_search_sums_paths_like_brute_force() -> None:
    generator = torch.Generator().manual_seed(0)
    log_probs = torch.randn(4, 3, generator=generator).mul(2).log_softmax(-1)
    # Brute force: the probability of a label sequence is the sum over the paths collapsing to it.
    totals: dict[tuple[int, ...], float] = {}
    for path in torch.cartesian_prod(*[torch.arange(3)] * 4).tolist():
        labels = tuple(greedy_collapse(torch.tensor([path]), 0)[0].tolist())
        labels = tuple(x for x in labels if x != 0)
        p = math.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
        totals[labels] = totals.get(labels, 0.0) + p
    best = max(totals, key=totals.get)
    hyp = prefix_beam_search(log_probs, beam_size=50, blank=0, max_len=10)
    assert tuple(hyp.token_ids) == best
    assert hyp.score == pytest.approx(math.log(totals[best]), abs=1e-6)


def test_allowed_tokens_renormalize_each_step() -> None:
    # Only "b" and <eos> allowed: p(b | <bos>) = 0.4 / 0.5, p(<eos> | b) = 0.9 / 0.95.
    allowed = torch.zeros(VOCAB, dtype=torch.bool)
    allowed[[B, EOS_ID]] = True
    (greedy,) = greedy_search(
        BigramStepper(TABLE), stub_memory(NEVER), max_len=10, allowed_tokens=allowed
    )
    assert greedy.token_ids == [B]
    assert greedy.score == pytest.approx(math.log(0.8 * 0.9 / 0.95))
    (beam,) = beam_search(
        BigramStepper(TABLE), stub_memory(NEVER), beam_size=2, max_len=10, allowed_tokens=allowed
    )
    assert [h.token_ids for h in beam.n_best] == [[B], []]
    assert [h.score for h in beam.n_best] == pytest.approx(
        [math.log(0.8 * 0.9 / 0.95), math.log(0.2)]
    )


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("arch", "beam_size"), [("seq2seq", 1), ("seq2seq", 3), ("ctc", 1), ("ctc", 3)]
)
def test_decoding_never_emits_disallowed_tokens(
    arch: str, beam_size: int, real_images: torch.Tensor
) -> None:
    torch.manual_seed(0)
    model = build_model(preset("tiny", arch=arch), 30).eval()
    free = model.decode(real_images, beam_size=beam_size, max_len=15)
    used = {i for hyp in free for h in hyp.n_best or [hyp] for i in h.token_ids}
    # Forbid every token the unrestricted search wrote, so that it must choose others.
    allowed = torch.ones(30, dtype=torch.bool)
    allowed[sorted(used)] = False
    restricted = model.decode(real_images, beam_size=beam_size, max_len=15, allowed_tokens=allowed)
    assert used
    emitted = {i for hyp in restricted for h in hyp.n_best or [hyp] for i in h.token_ids}
    assert emitted and not emitted & used
    assert all(allowed[i] for i in emitted)


def test_a_mask_of_another_vocabulary_is_refused() -> None:
    torch.manual_seed(0)
    model = build_model(preset("tiny"), 30).eval()
    images = torch.full((1, 1, 32, 64), 255, dtype=torch.uint8)
    with pytest.raises(ValueError, match="shape"):
        model.decode(images, allowed_tokens=torch.ones(31, dtype=torch.bool))
    with pytest.raises(ValueError, match="no token"):
        model.decode(images, allowed_tokens=torch.zeros(30, dtype=torch.bool))
