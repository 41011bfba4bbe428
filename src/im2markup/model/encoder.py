"""The paper's convolutional encoder and the extra layers that make the coarse grid.

The layer order follows the authors' code (`src/model/cnn.lua`): the two one-sided
max-pools halve the height first and the width second, and every convolution is padded,
so an H×W image becomes a C × ⌊H/8⌋ × ⌊W/8⌋ grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def scale_images(images: Tensor) -> Tensor:
    """uint8 grey images (white 255) → floats around zero, as the paper feeds them."""
    if images.dim() != 4 or images.size(1) != 1:
        raise ValueError(f"images must be B×1×H×W, got shape {tuple(images.shape)}")
    return (images.float() - 128.0) / 128.0


def _conv(c_in: int, c_out: int, batch_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class CNNEncoder(nn.Module):
    """Six 3×3 convolutions and four max-pools, no fully connected layer.

    Input: `B×1×H×W` uint8; output: `B×C×H/8×W/8` with C the last width.
    """

    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        w1, w2, w3, w4, w5, w6 = widths
        self.out_channels = w6
        self.net = nn.Sequential(
            *_conv(1, w1, batch_norm=False),
            nn.MaxPool2d(2, 2),
            *_conv(w1, w2, batch_norm=False),
            nn.MaxPool2d(2, 2),
            *_conv(w2, w3, batch_norm=True),
            *_conv(w3, w4, batch_norm=False),
            nn.MaxPool2d((2, 1), (2, 1)),
            *_conv(w4, w5, batch_norm=True),
            nn.MaxPool2d((1, 2), (1, 2)),
            *_conv(w5, w6, batch_norm=True),
        )

    def forward(self, images: Tensor) -> Tensor:
        height, width = images.shape[-2:]
        if height < 8 or width < 8:
            raise ValueError(f"images must be at least 8×8 pixels, got {height}×{width}")
        return self.net(scale_images(images))


class CoarseCNN(nn.Module):
    """Two more convolutions (with batch norm) and a `factor`×`factor` max-pool.

    The fine grid is padded up to a multiple of `factor` first, so every coarse cell covers
    exactly `factor`×`factor` fine cells (some of them padding when the grid does not divide).
    """

    def __init__(self, channels: int, factor: int):
        super().__init__()
        self.factor = factor
        self.net = nn.Sequential(
            *_conv(channels, channels, batch_norm=True),
            *_conv(channels, channels, batch_norm=True),
        )

    def forward(self, fine: Tensor) -> Tensor:
        x = self.net(fine)
        f = self.factor
        pad_h = -x.size(-2) % f
        pad_w = -x.size(-1) % f
        # After ReLU every value is ≥ 0, so zero padding never wins a max over a real cell.
        x = F.pad(x, (0, pad_w, 0, pad_h))
        return F.max_pool2d(x, f, f)


def padded_size(size: int, factor: int) -> int:
    """`size` rounded up to a multiple of `factor`."""
    return -(-size // factor) * factor


def grid_mask(batch: int, height: int, width: int, factor: int, device: torch.device) -> Tensor:
    """`B×Hp×Wp` bool, True on the real fine cells of the grid padded to `factor`."""
    mask = torch.zeros(
        batch, padded_size(height, factor), padded_size(width, factor), dtype=torch.bool
    )
    mask[:, :height, :width] = True
    return mask.to(device)
