"""Data: LaTeX tokens and normalization, rendering, image preprocessing, datasets."""
