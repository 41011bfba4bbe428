"""An interactive attention page: hover over a generated token to see where the model looked.

The page is one self-contained file: the input image as a data URI, the fine attention grids
and coarse boxes as JSON, drawn on a canvas by a few lines of plain JavaScript.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence

import numpy as np
from PIL import Image

from im2markup.evaluation.attention_viz import Box

SCRIPT = """
const data = JSON.parse(document.getElementById('attention-data').textContent);
const canvas = document.getElementById('canvas');
const ctx = canvas.getContext('2d');
const picture = new Image();
function show(t) {
  ctx.drawImage(picture, 0, 0);
  document.querySelectorAll('#tokens span').forEach(
    (s, i) => s.classList.toggle('on', i === t));
  if (t === null) return;
  const grid = data.fine[t], h = grid.length, w = grid[0].length;
  const peak = Math.max(...grid.flat()) || 1;
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    const y0 = Math.floor(i * canvas.height / h), y1 = Math.floor((i + 1) * canvas.height / h);
    const x0 = Math.floor(j * canvas.width / w), x1 = Math.floor((j + 1) * canvas.width / w);
    ctx.fillStyle = `rgba(230, 20, 20, ${0.75 * grid[i][j] / peak})`;
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
  }
  ctx.strokeStyle = 'rgb(30, 90, 230)';
  for (const [l, t0, r, b] of data.coarse[t] || []) ctx.strokeRect(l + .5, t0 + .5, r - l, b - t0);
}
picture.onload = () => {
  canvas.width = picture.width; canvas.height = picture.height;
  canvas.style.width = `${2 * picture.width}px`;  // formula images are small: show them doubled
  show(null);
};
picture.src = data.image;
document.querySelectorAll('#tokens span').forEach((s, i) => {
  s.onmouseenter = () => show(i);
});
document.getElementById('tokens').onmouseleave = () => show(null);
"""

STYLE = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 1.5em; }
canvas { border: 1px solid #ccc; image-rendering: pixelated; max-width: 100%; }
#tokens span { font-family: ui-monospace, monospace; padding: 1px 3px; margin: 1px;
  display: inline-block; border: 1px solid #ddd; cursor: pointer; }
#tokens span.on { background: #fd8; }
"""


def png_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def attention_page(
    image: Image.Image,
    tokens: Sequence[str],
    attention: np.ndarray,
    coarse_boxes: Sequence[Sequence[Box]] | None = None,
    title: str = "attention",
) -> str:
    """The HTML page; `attention` is `T × h × w`, `coarse_boxes` pixel boxes per token."""
    fine = np.round(np.asarray(attention, dtype=np.float32)[: len(tokens)], 4)
    data = {
        "image": png_data_uri(image.convert("L")),
        "fine": fine.tolist(),
        "coarse": [list(map(list, boxes)) for boxes in coarse_boxes] if coarse_boxes else [],
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    spans = "".join(f"<span>{html.escape(token)}</span>" for token in tokens)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<p>Hover over a token: red is its attention over the input (strongest cell fully red), "
        "blue outlines the coarse cells chosen for it.</p>"
        f"<canvas id='canvas'></canvas><div id='tokens'>{spans}</div>"
        f"<script type='application/json' id='attention-data'>{payload}</script>"
        f"<script>{SCRIPT}</script></body></html>"
    )
