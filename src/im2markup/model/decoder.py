"""LSTM decoder with input feeding, as in the paper.

    h_t = LSTM(h_{t−1}, [E y_{t−1}; o_{t−1}])
    c_t = attention(h_t, V)
    o_t = tanh(W_c [h_t; c_t])
    p(y_t) = softmax(W_out o_t)

The state between steps is an explicit `DecoderState`, never an attribute of the module,
so one decoder can run any number of searches at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from im2markup.data.vocab import BOS_ID, PAD_ID
from im2markup.model.attention import Attention, AttentionMemory, AttentionOutput

# Never a target, so never a prediction (training cannot rule them out under label smoothing).
NEVER_PREDICTED = [PAD_ID, BOS_ID]


@dataclass(frozen=True)
class DecoderState:
    """LSTM hidden and cell state and the previous attentional output o_{t−1} (all `B×H`)."""

    hidden: Tensor
    cell: Tensor
    output: Tensor

    def select(self, index: Tensor) -> DecoderState:
        """The states of batch rows `index` (beam reordering, dropping finished rows)."""
        return DecoderState(
            self.hidden.index_select(0, index),
            self.cell.index_select(0, index),
            self.output.index_select(0, index),
        )


@dataclass
class StepResult:
    """What one decoding step gives a search: log-probabilities, next state, attention."""

    log_probs: Tensor
    state: DecoderState
    attention: AttentionOutput


class Decoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden: int,
        value_dim: int,
        attention: Attention,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.cell = nn.LSTMCell(embed_dim + hidden, hidden)
        self.attention = attention
        self.combine = nn.Linear(hidden + value_dim, hidden, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab_size)

    def init_state(self, memory: AttentionMemory) -> DecoderState:
        """Zero state for every image in `memory`."""
        zeros = torch.zeros(memory.batch_size, self.hidden, device=memory.device)
        return DecoderState(zeros, zeros, zeros)

    def advance(
        self, embedded: Tensor, state: DecoderState, memory: AttentionMemory, sample: bool = False
    ) -> tuple[Tensor, DecoderState, AttentionOutput]:
        """One step from embedded previous tokens `B×E`: (o_t, next state, attention)."""
        lstm_in = torch.cat([embedded, state.output.to(embedded.dtype)], dim=-1)
        hidden, cell = self.cell(lstm_in, (state.hidden, state.cell))
        attention = self.attention(hidden, memory, sample=sample)
        context = attention.context.to(hidden.dtype)
        output = self.dropout(torch.tanh(self.combine(torch.cat([hidden, context], dim=-1))))
        return output, DecoderState(hidden.float(), cell.float(), output.float()), attention

    def step(self, tokens: Tensor, state: DecoderState, memory: AttentionMemory) -> StepResult:
        """Search step: previous tokens `B` → log-probabilities `B×V` of the next ones."""
        output, state, attention = self.advance(self.embed(tokens), state, memory)
        logits = self.out(output).float()
        logits[:, NEVER_PREDICTED] = float("-inf")
        log_probs = F.log_softmax(logits, dim=-1)
        return StepResult(log_probs, state, attention)

    def teacher_force(
        self, inputs: Tensor, memory: AttentionMemory, sample: bool = False
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits `B×T×V` for gold inputs `B×T`, plus per-step attention records `B×T`.

        The records are the cell counts (`n_fine`, `n_coarse`) and any attention extras
        (hard attention's `log_prob`, `entropy`), stacked over steps.
        """
        embedded = self.embed(inputs)
        state = self.init_state(memory)
        outputs = []
        records: dict[str, list[Tensor]] = {}
        for t in range(inputs.size(1)):
            output, state, attention = self.advance(embedded[:, t], state, memory, sample)
            outputs.append(output)
            step_records = {"n_fine": attention.n_fine, "n_coarse": attention.n_coarse}
            for name, value in {**step_records, **attention.extras}.items():
                records.setdefault(name, []).append(value)
        logits = self.out(torch.stack(outputs, dim=1))
        return logits, {name: torch.stack(values, dim=1) for name, values in records.items()}
