"""The paper's row encoder: one BiLSTM run along every row of the feature grid.

All rows share the LSTM weights; what tells rows apart is a trainable initial hidden and
cell state per row index (the paper's "positional embedding"; removing the row encoder
costs 24 points of exact match, removing the positional state about 0.6).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RowEncoder(nn.Module):
    """`B×C×H×W` features → `B×H×W×2·hidden` (forward and backward states concatenated).

    Rows below `max_rows` get their own initial state; taller grids reuse the last one
    rather than failing, so an unusually tall user image still decodes.
    """

    def __init__(self, in_channels: int, hidden: int, max_rows: int, row_position: bool = True):
        super().__init__()
        self.hidden = hidden
        self.out_dim = 2 * hidden
        self.lstm = nn.LSTM(in_channels, hidden, batch_first=True, bidirectional=True)
        self.row_position = row_position
        if row_position:
            self.init_h = nn.Parameter(torch.empty(max_rows, 2, hidden).uniform_(-0.1, 0.1))
            self.init_c = nn.Parameter(torch.empty(max_rows, 2, hidden).uniform_(-0.1, 0.1))

    def forward(self, features: Tensor) -> Tensor:
        batch, channels, height, width = features.shape
        rows = features.permute(0, 2, 3, 1).reshape(batch * height, width, channels)
        if self.row_position:
            index = torch.arange(height, device=features.device).clamp(max=self.init_h.size(0) - 1)
            # (H, 2, hidden) → (2, B·H, hidden), row-major like `rows`.
            h0 = self.init_h[index].transpose(0, 1).repeat(1, batch, 1).contiguous()
            c0 = self.init_c[index].transpose(0, 1).repeat(1, batch, 1).contiguous()
            out, _ = self.lstm(rows, (h0.to(rows.dtype), c0.to(rows.dtype)))
        else:
            out, _ = self.lstm(rows)
        return out.reshape(batch, height, width, self.out_dim)
