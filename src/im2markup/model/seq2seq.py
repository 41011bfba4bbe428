"""The paper's model: CNN → row encoder → attention decoder, and CNNEnc without the row encoder.

`Seq2Seq` is the encoder–decoder of IM2TEX with any registered attention; coarse-to-fine
variants add the coarse CNN and a second row encoder. With `row_encoder=False` the
attention reads the CNN features directly (the paper's CAPTION / CNNEnc baseline).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from im2markup.data.vocab import PAD_ID
from im2markup.model.attention import AttentionMemory, build_attention
from im2markup.model.base import Hypothesis, ImageToMarkupModel, LossOutput, SearchBounds
from im2markup.model.beam import beam_search
from im2markup.model.config import ModelConfig
from im2markup.model.deadline import check_deadline
from im2markup.model.decoder import Decoder, DecoderState, StepResult
from im2markup.model.decoding import greedy_search
from im2markup.model.encoder import CNNEncoder, CoarseCNN
from im2markup.model.reinforce import reinforce_loss
from im2markup.model.row_encoder import RowEncoder


class Seq2Seq(ImageToMarkupModel):
    def __init__(self, cfg: ModelConfig, vocab_size: int, row_encoder: bool = True):
        super().__init__()
        self.cfg = cfg
        self.vocab_size = vocab_size
        self.cnn = CNNEncoder(cfg.widths)
        channels = self.cnn.out_channels
        value_dim = 2 * cfg.encoder_hidden if row_encoder else channels
        attention = build_attention(
            cfg.attention,
            query_dim=cfg.decoder_hidden,
            value_dim=value_dim,
            attn_dim=cfg.attention_dim,
            coarse_factor=cfg.coarse_factor,
        )

        def make_row_encoder() -> RowEncoder | None:
            if not row_encoder:
                return None
            return RowEncoder(channels, cfg.encoder_hidden, cfg.max_rows, cfg.row_position)

        self.row_encoder = make_row_encoder() if attention.uses_fine else None
        self.coarse_cnn = CoarseCNN(channels, cfg.coarse_factor) if attention.uses_coarse else None
        self.coarse_row_encoder = make_row_encoder() if attention.uses_coarse else None
        self.decoder = Decoder(
            vocab_size, cfg.embed_dim, cfg.decoder_hidden, value_dim, attention, cfg.dropout
        )
        # Loss weight per target token id (`set_token_weights`); None weighs all alike.
        self.register_buffer("token_weights", None, persistent=False)
        self.hard = cfg.attention == "hard"
        if self.hard:
            self.register_buffer("reinforce_baseline", torch.zeros(cfg.max_len + 2))

    def encode(self, images: Tensor, fine_mask: Tensor | None = None) -> AttentionMemory:
        """Images `B×1×H×W` (uint8) → the attention memory, computed once per image."""
        features = self.cnn(images)
        fine = features.permute(0, 2, 3, 1)
        if self.row_encoder is not None:
            fine = self.row_encoder(features)
        coarse = None
        if self.coarse_cnn is not None:
            coarse_features = self.coarse_cnn(features)
            coarse = coarse_features.permute(0, 2, 3, 1)
            if self.coarse_row_encoder is not None:
                coarse = self.coarse_row_encoder(coarse_features)
        return self.decoder.attention.prepare(fine, coarse, fine_mask)

    def init_state(self, memory: AttentionMemory) -> DecoderState:
        return self.decoder.init_state(memory)

    def step(self, tokens: Tensor, state: DecoderState, memory: AttentionMemory) -> StepResult:
        return self.decoder.step(tokens, state, memory)

    def set_token_weights(self, weights: Tensor | None) -> None:
        """Weigh each target token's loss by `weights[token id]` (None: all alike). Not saved
        with the weights: it shapes training only (`model.spacing_weight`)."""
        self.token_weights = weights

    def training_loss(self, batch: dict[str, Tensor]) -> LossOutput:
        tgt = batch["tgt"]
        inputs, targets = tgt[:, :-1], tgt[:, 1:]
        mask = targets != PAD_ID
        n_tokens = int(mask.sum())
        memory = self.encode(batch["images"])
        sample = self.hard and self.training
        logits, records = self.decoder.teacher_force(inputs, memory, sample=sample)
        logits = logits.float()
        flat_logits, flat_targets = logits.flatten(0, 1), targets.flatten()
        smoothing = self.cfg.label_smoothing
        loss = F.cross_entropy(
            flat_logits,
            flat_targets,
            weight=self.token_weights,
            ignore_index=PAD_ID,
            label_smoothing=smoothing,
            reduction="sum",
        ) / max(n_tokens, 1)
        nll = loss.detach()
        if smoothing or self.token_weights is not None:
            # Perplexity is defined by the plain likelihood, not the shaped training target.
            with torch.no_grad():
                nll = F.cross_entropy(
                    flat_logits, flat_targets, ignore_index=PAD_ID, reduction="sum"
                ) / max(n_tokens, 1)
        n_correct = int(((logits.argmax(-1) == targets) & mask).sum())
        stats = {"nll": float(nll), "loss_smoothed": float(loss.detach())}
        if self.hard:
            gold = F.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            policy, policy_stats = reinforce_loss(
                gold,
                records["log_prob"],
                records["entropy"],
                mask,
                self.reinforce_baseline,
                gamma=self.cfg.reinforce_gamma,
                baseline_rate=self.cfg.reinforce_baseline_rate,
                entropy_weight=self.cfg.reinforce_entropy,
                update_baseline=self.training,
            )
            loss = loss + self.cfg.reinforce_weight * policy
            stats.update(policy_stats)
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
        check_deadline(bounds.deadline)
        memory = self.encode(images)
        if beam_size == 1:
            return greedy_search(
                self, memory, max_len, length_penalty, keep_attention, allowed, bounds
            )
        return beam_search(
            self, memory, beam_size, max_len, length_penalty, keep_attention, allowed, bounds
        )
