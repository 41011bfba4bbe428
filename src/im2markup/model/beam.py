"""Batched beam search: every image's beam lives in one `(B·k)×…` tensor.

At each step the 2k best extensions of an image's k beams are ranked together; an `<eos>`
among the first k ends a hypothesis, and the k best other extensions carry on, so the beam
never shrinks. An image is done once it has k finished hypotheses (its n-best list) and
leaves the batch. With k = 1 this is exactly greedy decoding.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from im2markup.data.vocab import BOS_ID, EOS_ID
from im2markup.model.attention import AttentionMemory, AttentionOutput
from im2markup.model.base import Hypothesis, SearchBounds, length_normalized
from im2markup.model.deadline import check_deadline
from im2markup.model.decoding import Stepper, restrict


@dataclass
class BeamHistory:
    """Tokens (and optionally attention) of every live beam so far: `A×k×t…`."""

    tokens: Tensor
    n_fine: Tensor
    attention: Tensor | None
    coarse_attention: Tensor | None

    def _fields(self) -> dict[str, Tensor]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    def extend(self, origin: Tensor, tokens: Tensor, attention: AttentionOutput) -> BeamHistory:
        """Histories of the beams each new beam extends (`origin`, `A×k`) plus step t."""
        active, k = origin.shape
        flat = (torch.arange(active, device=origin.device).unsqueeze(1) * k + origin).flatten()
        new = {"tokens": tokens, "n_fine": attention.n_fine.view(active, k).gather(1, origin)}
        if self.attention is not None:
            new["attention"] = attention.weights.float()[flat].view(active, k, -1)
        if self.coarse_attention is not None and attention.coarse_weights is not None:
            new["coarse_attention"] = attention.coarse_weights.float()[flat].view(active, k, -1)
        changes = {}
        for name, past in self._fields().items():
            past = past.flatten(0, 1)[flat].view(past.shape)
            step = new[name].view(active, k, 1, *past.shape[3:])
            changes[name] = torch.cat([past, step], dim=2)
        return dataclasses.replace(self, **changes)

    def select(self, index: Tensor) -> BeamHistory:
        return dataclasses.replace(
            self, **{name: value[index] for name, value in self._fields().items()}
        )

    def hypothesis(self, row: int, beam: int, score: float) -> Hypothesis:
        attention = coarse = None
        if self.attention is not None:
            attention = self.attention[row, beam].clone()
        if self.coarse_attention is not None:
            coarse = self.coarse_attention[row, beam].clone()
        return Hypothesis(
            token_ids=self.tokens[row, beam].tolist(),
            score=score,
            attention=attention,
            coarse_attention=coarse,
            n_fine_cells=self.n_fine[row, beam].tolist(),
        )


def _empty_history(rows: int, k: int, memory: AttentionMemory, keep: bool) -> BeamHistory:
    device = memory.device
    attention = coarse = None
    if keep:
        attention = torch.zeros(rows, k, 0, *memory.fine_shape, device=device)
        if memory.coarse_shape is not None:
            coarse = torch.zeros(rows, k, 0, *memory.coarse_shape, device=device)
    empty = torch.zeros(rows, k, 0, dtype=torch.long, device=device)
    return BeamHistory(empty, empty.clone(), attention, coarse)


@torch.no_grad()
def beam_search(
    stepper: Stepper,
    memory: AttentionMemory,
    beam_size: int,
    max_len: int,
    length_penalty: float = 0.0,
    keep_attention: bool = False,
    allowed_tokens: Tensor | None = None,
    bounds: SearchBounds | None = None,
) -> list[Hypothesis]:
    """The best hypothesis per image, with the image's k-best list in `n_best`; only ids of
    `allowed_tokens` (a checked mask, see `base.check_allowed`) when given. Past
    `bounds.deadline` it raises `deadline.DeadlineExceeded`; floors are for greedy search."""
    if beam_size < 1 or max_len < 1:
        raise ValueError(f"beam_size and max_len must be at least 1, got {beam_size}, {max_len}")
    k = beam_size
    batch = memory.batch_size
    history = _empty_history(batch, k, memory, keep_attention)
    device = history.tokens.device
    memory = memory.select(torch.arange(batch, device=device).repeat_interleave(k))
    state = stepper.init_state(memory)
    tokens = torch.full((batch * k,), BOS_ID, dtype=torch.long, device=device)
    scores = torch.full((batch, k), float("-inf"), dtype=torch.float64, device=device)
    scores[:, 0] = 0.0
    sources = list(range(batch))
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    ranks = torch.arange(2 * k, device=device)
    for t in range(max_len):
        check_deadline(bounds.deadline if bounds is not None else None)
        result = stepper.step(tokens, state, memory)
        active = len(sources)
        log_probs = restrict(result.log_probs, allowed_tokens).double().view(active, k, -1)
        vocab = log_probs.size(-1)
        top_scores, top_index = (scores.unsqueeze(-1) + log_probs).view(active, -1).topk(2 * k)
        origin, token = top_index // vocab, top_index % vocab
        is_eos = token == EOS_ID
        ended = is_eos & (ranks < k) & torch.isfinite(top_scores)
        for row, rank in ended.nonzero().tolist():
            hyps = finished[sources[row]]
            if len(hyps) < k:
                score = length_normalized(float(top_scores[row, rank]), t + 1, length_penalty)
                hyps.append(history.hypothesis(row, int(origin[row, rank]), score))
        # The k best extensions that are not <eos> carry on (there are always k among 2k).
        order = torch.where(is_eos, ranks + 2 * k, ranks).argsort(dim=-1)[:, :k]
        scores = top_scores.gather(1, order)
        origin, token = origin.gather(1, order), token.gather(1, order)
        history = history.extend(origin, token, result.attention)
        flat = (torch.arange(active, device=device).unsqueeze(1) * k + origin).flatten()
        state, tokens = result.state.select(flat), token.flatten()
        done = [len(finished[source]) >= k for source in sources]
        if any(done):
            keep = [row for row, row_done in enumerate(done) if not row_done]
            if not keep:
                break
            keep_rows = torch.tensor(keep, device=device)
            beam_rows = (keep_rows.unsqueeze(1) * k + torch.arange(k, device=device)).flatten()
            sources = [sources[row] for row in keep]
            scores, history = scores[keep_rows], history.select(keep_rows)
            state, memory, tokens = (
                state.select(beam_rows),
                memory.select(beam_rows),
                tokens[beam_rows],
            )
    results = [sorted(hyps, key=lambda h: h.score, reverse=True) for hyps in finished]
    if t == max_len - 1:
        # max_len reached: unfinished beams (already best first) fill the n-best lists,
        # ranked after every finished hypothesis.
        for row, source in enumerate(sources):
            for beam in range(k):
                if len(results[source]) < k and bool(torch.isfinite(scores[row, beam])):
                    score = length_normalized(float(scores[row, beam]), max_len, length_penalty)
                    results[source].append(history.hypothesis(row, beam, score))
    return [dataclasses.replace(ranked[0], n_best=ranked) for ranked in results]
