"""Greedy decoding over an explicit state, and what searches need from a model.

A search drives a `Stepper` (`init_state`, `step`); it never touches module attributes, so
decoding is re-entrant. Rows whose formula is finished are dropped from the batch at once,
so a batch costs as many steps as its longest formula, on fewer and fewer rows. A search may
be restricted to some tokens (`allowed_tokens`, e.g. the CROHME symbol set): the others get
−∞ logits, i.e. the step's distribution is renormalized over the allowed ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from im2markup.data.vocab import BOS_ID, EOS_ID, PAD_ID
from im2markup.model.attention import AttentionMemory, AttentionOutput
from im2markup.model.base import Hypothesis, SearchBounds, length_normalized
from im2markup.model.deadline import check_deadline
from im2markup.model.decoder import DecoderState, StepResult


class Stepper(Protocol):
    def init_state(self, memory: AttentionMemory) -> DecoderState: ...

    def step(self, tokens: Tensor, state: DecoderState, memory: AttentionMemory) -> StepResult: ...


@dataclass
class StepTrace:
    """Per-step records of a batch of searches, filled row by row (`B×T…`)."""

    tokens: Tensor
    n_fine: Tensor
    attention: Tensor | None
    coarse_attention: Tensor | None

    @classmethod
    def empty(cls, rows: int, max_len: int, memory: AttentionMemory, keep: bool) -> StepTrace:
        device = memory.device
        attention = coarse = None
        if keep:
            attention = torch.zeros(rows, max_len, *memory.fine_shape, device=device)
            if memory.coarse_shape is not None:
                coarse = torch.zeros(rows, max_len, *memory.coarse_shape, device=device)
        return cls(
            tokens=torch.full((rows, max_len), PAD_ID, dtype=torch.long, device=device),
            n_fine=torch.zeros(rows, max_len, dtype=torch.long, device=device),
            attention=attention,
            coarse_attention=coarse,
        )

    def record(self, rows: Tensor, t: int, tokens: Tensor, attention: AttentionOutput) -> None:
        self.tokens[rows, t] = tokens
        self.n_fine[rows, t] = attention.n_fine
        if self.attention is not None:
            self.attention[rows, t] = attention.weights.float()
        if self.coarse_attention is not None and attention.coarse_weights is not None:
            self.coarse_attention[rows, t] = attention.coarse_weights.float()

    def hypothesis(self, row: int, length: int, score: float) -> Hypothesis:
        """The hypothesis of `row` made of its first `length` tokens."""
        return Hypothesis(
            token_ids=self.tokens[row, :length].tolist(),
            score=score,
            attention=None if self.attention is None else self.attention[row, :length].clone(),
            coarse_attention=None
            if self.coarse_attention is None
            else self.coarse_attention[row, :length].clone(),
            n_fine_cells=self.n_fine[row, :length].tolist(),
        )


def restrict(log_probs: Tensor, allowed: Tensor | None) -> Tensor:
    """Log-probabilities `…×V` renormalized over the `allowed` ids, the others −∞ (as if their
    logits were −∞); unchanged without a mask."""
    if allowed is None:
        return log_probs
    return torch.log_softmax(log_probs.masked_fill(~allowed, float("-inf")), dim=-1)


@torch.no_grad()
def greedy_search(
    stepper: Stepper,
    memory: AttentionMemory,
    max_len: int,
    length_penalty: float = 0.0,
    keep_attention: bool = False,
    allowed_tokens: Tensor | None = None,
    bounds: SearchBounds | None = None,
) -> list[Hypothesis]:
    """Arg-max token at every step until `<eos>` or `max_len` tokens (among `allowed_tokens`,
    a checked mask, see `base.check_allowed`, when given). A row whose summed log-probability
    falls below its `bounds.floor` stops there with score −∞: later steps only lower it."""
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    bounds = bounds or SearchBounds()
    batch = memory.batch_size
    device = memory.device
    trace = StepTrace.empty(batch, max_len, memory, keep_attention)
    lengths = torch.full((batch,), max_len, dtype=torch.long)
    scores = torch.zeros(batch, dtype=torch.float64, device=device)
    floor = None if bounds.floor is None else bounds.floor.to(device, torch.float64)
    beaten = torch.zeros(batch, dtype=torch.bool, device=device)
    active = torch.arange(batch, device=device)
    tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    state = stepper.init_state(memory)
    for t in range(max_len):
        check_deadline(bounds.deadline)
        result = stepper.step(tokens, state, memory)
        best, tokens = restrict(result.log_probs, allowed_tokens).max(dim=-1)
        scores[active] += best.double()
        trace.record(active, t, tokens, result.attention)
        state = result.state
        done = tokens == EOS_ID
        if floor is not None:
            below = scores[active] < floor[active]
            beaten[active[below]] = True
            done = done | below
        if bool(done.any()):
            lengths[active[done].cpu()] = t
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            active, tokens = active[keep], tokens[keep]
            state, memory = state.select(keep), memory.select(keep)
    hypotheses = []
    for row in range(batch):
        length = int(lengths[row])
        steps = min(length + 1, max_len)
        score = length_normalized(float(scores[row]), steps, length_penalty)
        if bool(beaten[row]):
            score = float("-inf")
        hypotheses.append(trace.hypothesis(row, length, score))
    return hypotheses
