"""Resizing an image by a factor, as augmentation and the user-image path both do it."""

from __future__ import annotations

import numpy as np
from PIL import Image


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize by `scale` (Lanczos down, bicubic up), at least 1 px each way."""
    if abs(scale - 1.0) < 1e-3:
        return image
    height, width = image.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    method = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(image).resize(size, method))
