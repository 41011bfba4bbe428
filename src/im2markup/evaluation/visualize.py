"""`im2markup visualize`: read one image with a model and draw its attention for every token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from im2markup.data.vocab import Vocab
from im2markup.evaluation.attention_page import attention_page
from im2markup.evaluation.attention_viz import (
    attention_strip,
    coarse_boxes,
    selected_coarse_cells,
)
from im2markup.inference.batches import Search, decode_batch
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import DecodeConfig
from im2markup.model.well_formed import first_well_formed
from im2markup.paths import cache_dir


@dataclass(frozen=True)
class Explanation:
    """A decoded formula with the attention behind each token (`T × h × w`, coarse optional)."""

    tokens: list[str]
    attention: np.ndarray
    coarse: np.ndarray | None
    coarse_factor: int


@dataclass(frozen=True)
class Visualization:
    tokens: list[str]
    strip: Path
    page: Path


def explain(
    model: ImageToMarkupModel,
    vocab: Vocab,
    pixels: np.ndarray,
    beam_size: int = DecodeConfig.beam_size,
    allowed_tokens: torch.Tensor | None = None,
    max_len: int | None = None,
) -> Explanation:
    """Decode one model-ready image (`uint8` H×W; model in eval mode), keeping attention
    (only `allowed_tokens`, when given, and the first well-formed n-best entry, as the
    predictor decodes)."""
    device = next(model.parameters()).device
    batch = torch.tensor(np.asarray(pixels, dtype=np.uint8)[None, None])
    search = Search(beam_size, max_len, keep_attention=True, allowed_tokens=allowed_tokens)
    (hyp,), _ = decode_batch(model, batch, device, search)
    hyp = first_well_formed(hyp, vocab)
    if hyp.attention is None:
        raise ValueError(f"{type(model).__name__} keeps no attention to show (e.g. a CTC model)")
    steps, tokens = [], []
    for step, token_id in enumerate(hyp.token_ids[: len(hyp.attention)]):
        token = vocab.decode([token_id])  # empty for padding or <bos>, which have no place
        if token:
            steps.append(step)
            tokens.append(token[0])
    coarse = hyp.coarse_attention
    return Explanation(
        tokens=tokens,
        attention=hyp.attention[steps].float().cpu().numpy(),
        coarse=None if coarse is None else coarse[steps].float().cpu().numpy(),
        coarse_factor=int(getattr(getattr(model, "cfg", None), "coarse_factor", 4)),
    )


def write_visualization(
    image: Image.Image, explanation: Explanation, out_dir: Path, stem: str
) -> tuple[Path, Path]:
    """Write `<stem>.attention.png` (one tile per token) and `<stem>.attention.html`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    e = explanation
    strip_path = out_dir / f"{stem}.attention.png"
    attention_strip(image, e.tokens, e.attention, e.coarse, e.coarse_factor).save(
        strip_path, optimize=True
    )
    boxes = None
    if e.coarse is not None:
        fine_shape = (e.attention.shape[1], e.attention.shape[2])
        boxes = [
            coarse_boxes(cells, fine_shape, image.size, e.coarse_factor)
            for cells in selected_coarse_cells(e.coarse, e.attention, e.coarse_factor)
        ]
    page_path = out_dir / f"{stem}.attention.html"
    page_path.write_text(
        attention_page(image, e.tokens, e.attention, boxes, title=f"{stem}: {' '.join(e.tokens)}"),
        encoding="utf-8",
    )
    return strip_path, page_path


def visualize(
    image_path: Path,
    model_dir: Path | None = None,
    out_dir: Path | None = None,
    *,
    beam_size: int | None = None,
    device: str = "cpu",
) -> Visualization:
    """Read `image_path` as `im2markup predict` does (at the scale it chooses) and write its
    attention strip and page.

    `model_dir` None uses the bundled model; `out_dir` defaults to `<cache>/visualize`.
    """
    from im2markup.serving.predictor import load_model

    predictor = load_model(model_dir, device)
    pixels = predictor.model_input(image_path)
    beam_size = beam_size or predictor.beam_size
    explanation = explain(
        predictor.model, predictor.vocab, pixels, beam_size, max_len=predictor.max_len
    )
    out_dir = out_dir or cache_dir() / "visualize"
    strip, page = write_visualization(
        Image.fromarray(pixels), explanation, out_dir, Path(image_path).stem
    )
    return Visualization(explanation.tokens, strip, page)
