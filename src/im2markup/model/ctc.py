"""The CTC baseline: the paper's CNN, a BiLSTM along the columns, CTC loss.

Each column of the CNN grid is max-pooled over its height (buckets differ in height), the
BiLSTM reads the columns left to right, and every column emits `ctc_frames_per_column`
output frames, because at 8× downsampling a narrow image has fewer columns than its
formula has tokens. The CTC blank reuses id 0 (`<pad>`), which never occurs in a target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from im2markup.data.vocab import BOS_ID, EOS_ID, PAD_ID
from im2markup.model.base import (
    Hypothesis,
    ImageToMarkupModel,
    LossOutput,
    SearchBounds,
    length_normalized,
)
from im2markup.model.config import ModelConfig
from im2markup.model.ctc_search import greedy_collapse, prefix_beam_search
from im2markup.model.deadline import check_deadline
from im2markup.model.decoding import restrict
from im2markup.model.encoder import CNNEncoder

BLANK_ID = PAD_ID


class CTCModel(ImageToMarkupModel):
    def __init__(self, cfg: ModelConfig, vocab_size: int):
        super().__init__()
        self.cfg = cfg
        self.vocab_size = vocab_size
        self.frames = cfg.ctc_frames_per_column
        self.cnn = CNNEncoder(cfg.widths)
        self.rnn = nn.LSTM(
            self.cnn.out_channels, cfg.encoder_hidden, batch_first=True, bidirectional=True
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.encoder_hidden, vocab_size * self.frames)

    def frame_log_probs(self, images: Tensor) -> Tensor:
        """Images → log-probabilities `B×T×V` over T = columns × frames per column."""
        columns = self.cnn(images).amax(dim=2).transpose(1, 2)
        states, _ = self.rnn(columns)
        logits = self.out(self.dropout(states)).float()
        batch, width = logits.shape[:2]
        return F.log_softmax(logits.view(batch, width * self.frames, -1), dim=-1)

    def training_loss(self, batch: dict[str, Tensor]) -> LossOutput:
        tgt, tgt_lengths = batch["tgt"], batch["tgt_lengths"]
        targets = tgt[:, 1:]
        target_lengths = (tgt_lengths - 1).clamp(min=0)
        n_tokens = int(target_lengths.sum())
        log_probs = self.frame_log_probs(batch["images"])
        n_frames = log_probs.size(1)
        input_lengths = torch.full_like(target_lengths, n_frames)
        per_target = F.ctc_loss(
            log_probs.transpose(0, 1),
            targets,
            input_lengths,
            target_lengths,
            blank=BLANK_ID,
            reduction="none",
            zero_infinity=True,
        )
        positions = torch.arange(targets.size(1), device=targets.device)
        real = positions.unsqueeze(0) < target_lengths.unsqueeze(1)
        # A path needs a frame per token plus a blank between repeated tokens; a target that
        # needs more frames than the image has cannot be emitted and is left out of the mean.
        repeats = ((targets[:, 1:] == targets[:, :-1]) & real[:, 1:]).sum(dim=1)
        alignable = target_lengths + repeats <= n_frames
        loss = per_target[alignable].sum() / max(int(target_lengths[alignable].sum()), 1)
        paths = greedy_collapse(log_probs.argmax(-1), BLANK_ID)
        width = min(paths.size(1), targets.size(1))
        n_correct = int(((paths[:, :width] == targets[:, :width]) & real[:, :width]).sum())
        unalignable = float((~alignable).sum())
        stats = {"nll": float(loss.detach()), "ctc_unalignable": unalignable}
        return LossOutput(loss, n_tokens, n_correct, stats)

    def search(
        self,
        images: Tensor,
        beam_size: int,
        max_len: int,
        length_penalty: float,
        keep_attention: bool,
        allowed: Tensor | None,
        bounds: SearchBounds,
    ) -> list[Hypothesis]:
        """Greedy (collapse repeats, drop blanks) or prefix beam search; no attention.

        With `allowed`, every frame is renormalized over the allowed ids and the blank. One
        pass over the frames decides every row, so `bounds.floor` has nothing to cut short.
        """
        check_deadline(bounds.deadline)
        log_probs = self.frame_log_probs(images)
        # <bos> and <eos> are never CTC labels; rule them out before searching.
        log_probs[..., [BOS_ID, EOS_ID]] = float("-inf")
        if allowed is not None:
            allowed = allowed.clone()
            allowed[BLANK_ID] = True
            log_probs = restrict(log_probs, allowed)
        if beam_size > 1:
            return [
                prefix_beam_search(row.cpu(), beam_size, BLANK_ID, max_len, length_penalty)
                for row in log_probs
            ]
        best, path = log_probs.max(dim=-1)
        collapsed = greedy_collapse(path, BLANK_ID)
        hypotheses = []
        for row in range(collapsed.size(0)):
            ids = [i for i in collapsed[row].tolist() if i != BLANK_ID][:max_len]
            score = length_normalized(float(best[row].sum()), len(ids) + 1, length_penalty)
            hypotheses.append(Hypothesis(token_ids=ids, score=score))
        return hypotheses
