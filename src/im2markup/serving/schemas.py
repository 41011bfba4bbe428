"""What the HTTP API sends and receives, and how a `Prediction` becomes that JSON.

Images travel as base64 PNG; attention maps as one base64 block of bytes (each token's map
scaled to its own maximum, 0–255), which is a tenth of the size of the same maps as JSON numbers.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from im2markup.serving.predictor import Prediction


class ImagePayload(BaseModel):
    """A JSON request: the bytes of an image file, base64-encoded (a `data:` URL works too)."""

    image_base64: str = Field(description="PNG, JPEG, … file bytes in base64")
    filename: str | None = Field(default=None, description="shown back in the response")


class AttentionMaps(BaseModel):
    """Per-token attention over the model's feature grid, laid over `input_png`."""

    rows: int
    cols: int
    tokens: list[str]
    data: str = Field(
        description="base64 of len(tokens)·rows·cols bytes, row-major, one map per token"
    )


class PredictResponse(BaseModel):
    """The LaTeX read from one upload, with what the page shows beside it when asked for."""

    image: str
    latex: str = Field(description="compact LaTeX to paste")
    tokens: str = Field(description="normalized, space-separated tokens")
    score: float = Field(description="the model's log-probability of the LaTeX")
    seconds: float = Field(description="decoding time of this image")
    verified: bool | None = Field(default=None, description="render matched the input (verify)")
    render_png: str | None = Field(default=None, description="base64 PNG of the LaTeX, rendered")
    render_error: str | None = None
    input_png: str | None = Field(default=None, description="base64 PNG of the model's input")
    attention: AttentionMaps | None = None


class Health(BaseModel):
    """Liveness plus the load: which model answers, and how many requests run and wait."""

    status: str = Field(
        description="ok: a worker is free; busy: every worker is busy, new requests wait; "
        "full: the waiting line is full, new requests are refused (503)"
    )
    model: str
    device: str
    workers: int
    running: int = Field(description="requests a worker is decoding")
    queued: int = Field(description="requests waiting for a worker")
    pending: int = Field(description="running + queued")
    capacity: int = Field(description="most requests running or queued at once")
    screening: int = Field(
        description="uploads being read, or waiting to be, before they may join the line"
    )


class ErrorBody(BaseModel):
    """Every error answer: one sentence naming the upload and what was wrong with it."""

    detail: str


def png_base64(image: Image.Image) -> str:
    """A PNG in base64, the form JSON carries images in (and an `<img>` data URL reads)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def attention_maps(prediction: Prediction) -> AttentionMaps | None:
    """The attention of a prediction in the compact wire form (`None` when not kept)."""
    if not prediction.attention:
        return None
    maps = np.stack(prediction.attention).astype(np.float32)
    peak = maps.reshape(len(maps), -1).max(axis=1).clip(min=1e-12)[:, None, None]
    scaled = np.rint(255.0 * maps / peak).astype(np.uint8)
    return AttentionMaps(
        rows=int(maps.shape[1]),
        cols=int(maps.shape[2]),
        tokens=prediction.tokens.split(),
        data=base64.b64encode(scaled.tobytes()).decode("ascii"),
    )


def to_response(
    name: str,
    prediction: Prediction,
    render: Image.Image | None = None,
    render_error: str | None = None,
    with_input: bool = False,
) -> PredictResponse:
    """The JSON answer for one prediction; the model input rides along when `with_input`, for
    the page to lay the attention maps over."""
    return PredictResponse(
        image=name,
        latex=prediction.latex,
        tokens=prediction.tokens,
        score=prediction.score,
        seconds=round(prediction.seconds, 4),
        verified=prediction.verified,
        render_png=png_base64(render) if render is not None else None,
        render_error=render_error,
        input_png=png_base64(prediction.input_image)
        if with_input and prediction.input_image is not None
        else None,
        attention=attention_maps(prediction),
    )
