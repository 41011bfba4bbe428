"""The Python API: load a model once, then turn images of formulas into LaTeX.

`Predictor` keeps no per-call state, so one instance may serve several threads at once
(decoding itself keeps its state in local variables, see `model.base`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from im2markup.data.detokenizer import detokenize
from im2markup.data.handwriting.crohme import crohme_mask
from im2markup.data.user_images import ImageErrorKind, ImageInputError
from im2markup.data.vocab import Vocab
from im2markup.model.base import Hypothesis, ImageToMarkupModel
from im2markup.serving.inputs import ImageSource, describe, native_image, prepare_image
from im2markup.serving.limits import Limits
from im2markup.serving.verify import rerank

DEFAULT_BEAM = 5
DEFAULT_BATCH = 16


@dataclass(frozen=True)
class Prediction:
    """The LaTeX read from one image.

    `latex` is compact LaTeX to paste; `tokens` the normalized, space-separated token form the
    model writes; `score` the model's log-probability of it (higher is surer); `seconds` the
    time spent on this image (its share of a batch's). `attention` holds one `H'×W'` map
    per token over `input_image` (the padded model input) when asked for; `verified` says
    whether the render of `latex` matched the input (`None` unless verification ran).
    """

    latex: str
    tokens: str
    score: float
    seconds: float
    attention: list[np.ndarray] | None = field(default=None, repr=False)
    verified: bool | None = None
    input_image: Image.Image | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class FailedPrediction:
    """An image that could not be read: `error` says why, `source` which image it was, `kind`
    what went wrong (see `user_images.ImageErrorKind`)."""

    error: str
    source: str = ""
    seconds: float = 0.0
    kind: ImageErrorKind = "unreadable"

    @property
    def ok(self) -> bool:
        return False


Result = Prediction | FailedPrediction


@dataclass(frozen=True)
class _Prepared:
    """An image ready to decode: the model input, the image at its own scale (kept only for
    verification) and the seconds spent loading it."""

    pixels: np.ndarray
    native: np.ndarray | None
    seconds: float


class Predictor:
    """A loaded model with everything needed to go from an image to LaTeX.

    `crohme` keeps the output to the symbols of CROHME's handwritten formulas (`crohme_mask`).
    """

    def __init__(
        self,
        model: ImageToMarkupModel,
        vocab: Vocab,
        device: torch.device | str = "cpu",
        *,
        beam_size: int = DEFAULT_BEAM,
        max_len: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        limits: Limits | None = None,
        verify_styles: tuple[str, ...] | None = None,
        name: str = "model",
        crohme: bool = False,
    ):
        self.model = model.eval()
        self.vocab = vocab
        self.device = torch.device(device)
        self.beam_size = beam_size
        self.max_len = max_len
        self.batch_size = batch_size
        self.limits = limits or Limits()
        self.verify_styles = verify_styles
        self.name = name
        self.allowed_tokens = crohme_mask(vocab).to(self.device) if crohme else None

    def predict(
        self,
        source: ImageSource,
        *,
        beam_size: int | None = None,
        attention: bool = False,
        verify: bool = False,
    ) -> Prediction:
        """LaTeX of one image (a PIL image, a path or the bytes of an image file).

        Raises `ImageInputError` when the image cannot be used (unreadable, empty, too large,
        no ink).
        """
        result = self.predict_batch(
            [source], beam_size=beam_size, attention=attention, verify=verify
        )[0]
        if isinstance(result, FailedPrediction):
            raise ImageInputError(f"{result.source}: {result.error}", result.kind)
        return result

    def predict_batch(
        self,
        sources: Sequence[ImageSource],
        *,
        beam_size: int | None = None,
        attention: bool = False,
        verify: bool = False,
    ) -> list[Result]:
        """One result per source, in order; a bad image gives a `FailedPrediction`, never an
        exception for the whole batch."""
        return list(
            self.iter_predict(sources, beam_size=beam_size, attention=attention, verify=verify)
        )

    def iter_predict(
        self,
        sources: Iterable[ImageSource],
        *,
        beam_size: int | None = None,
        attention: bool = False,
        verify: bool = False,
        chunk_size: int = 64,
    ) -> Iterator[Result]:
        """Results in input order, reading `chunk_size` images at a time so that a long list
        of files never sits in memory all at once."""
        chunk: list[ImageSource] = []
        for source in sources:
            chunk.append(source)
            if len(chunk) == chunk_size:
                yield from self._predict_chunk(chunk, beam_size, attention, verify)
                chunk = []
        if chunk:
            yield from self._predict_chunk(chunk, beam_size, attention, verify)

    def _predict_chunk(
        self, sources: list[ImageSource], beam_size: int | None, attention: bool, verify: bool
    ) -> list[Result]:
        results: list[Result] = [FailedPrediction("not decoded")] * len(sources)
        ready: dict[int, _Prepared] = {}
        for i, source in enumerate(sources):
            start = time.perf_counter()
            try:
                pixels = prepare_image(source, self.limits)
                native = native_image(source, self.limits) if verify else None
            except ImageInputError as err:
                seconds = time.perf_counter() - start
                results[i] = FailedPrediction(str(err), describe(source), seconds, err.kind)
            else:
                ready[i] = _Prepared(pixels, native, time.perf_counter() - start)
        for group in self._groups(ready):
            decoded = self._decode_group(
                [ready[i] for i in group], beam_size or self.beam_size, attention, verify
            )
            for i, prediction in zip(group, decoded, strict=True):
                results[i] = _with_time(prediction, ready[i].seconds)
        return results

    def _groups(self, ready: dict[int, _Prepared]) -> Iterator[list[int]]:
        """Indices of images of one size, at most `batch_size` at a time."""
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, prepared in ready.items():
            by_shape.setdefault(prepared.pixels.shape, []).append(i)
        for indices in by_shape.values():
            for at in range(0, len(indices), self.batch_size):
                yield indices[at : at + self.batch_size]

    def _decode_group(
        self, images: list[_Prepared], beam_size: int, attention: bool, verify: bool
    ) -> list[Prediction]:
        """Decode images of one size together; each gets an equal share of the time."""
        start = time.perf_counter()
        batch = torch.from_numpy(np.stack([image.pixels for image in images])[:, None])
        with torch.inference_mode():
            hypotheses = self.model.decode(
                batch.to(self.device),
                beam_size=beam_size,
                max_len=self.max_len,
                keep_attention=attention,
                allowed_tokens=self.allowed_tokens,
            )
        predictions = []
        for image, hyp in zip(images, hypotheses, strict=True):
            chosen, verified = hyp, None
            if verify and image.native is not None:
                chosen, verified = rerank(
                    image.native, hyp.n_best or [hyp], self.vocab, self.verify_styles, self.limits
                )
            predictions.append(self._prediction(chosen, image.pixels, attention, verified))
        share = (time.perf_counter() - start) / len(images)
        return [_with_time(p, share) for p in predictions]

    def _prediction(
        self, hyp: Hypothesis, pixels: np.ndarray, attention: bool, verified: bool | None
    ) -> Prediction:
        tokens = self.vocab.decode(hyp.token_ids)
        maps = None
        if attention and hyp.attention is not None:
            maps = [m.float().cpu().numpy() for m in hyp.attention[: len(tokens)]]
        return Prediction(
            latex=detokenize(" ".join(tokens)),
            tokens=" ".join(tokens),
            score=float(hyp.score),
            seconds=0.0,
            attention=maps,
            verified=verified,
            input_image=Image.fromarray(pixels),
        )


def _with_time(result: Result, seconds: float) -> Result:
    """The result with `seconds` added to its time."""
    return replace(result, seconds=result.seconds + seconds)


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but PyTorch sees no CUDA device")
    return resolved


def default_model_dir() -> Path:
    """The bundled model: the only directory under `models/` with weights (or the one named
    `default` when there are several)."""
    from im2markup.paths import models_dir

    root = models_dir()
    candidates = sorted(p.parent for p in root.glob("*/model.safetensors"))
    if not candidates:
        raise FileNotFoundError(
            f"no bundled model under {root}; pass the directory of a trained model"
        )
    named = [p for p in candidates if p.name == "default"]
    if named or len(candidates) == 1:
        return (named or candidates)[0]
    names = ", ".join(p.name for p in candidates)
    raise FileNotFoundError(f"several models under {root} ({names}) and none named 'default'")


def load_model(
    path: str | Path | None = None,
    device: str = "cpu",
    *,
    threads: int | None = None,
    **kwargs: Any,
) -> Predictor:
    """A `Predictor` for the model directory `path` (the bundled model when `None`).

    `threads` sets PyTorch's CPU threads for the whole process: decoding runs many small
    steps, and on a busy machine two threads that wait for each other are many times slower
    than one (see `benchmarks/README.md`). Other keyword arguments go to `Predictor`
    (`beam_size`, `batch_size`, `max_len`, `limits`, `verify_styles`, `crohme`).
    """
    from im2markup.model.io import load_model_dir

    if threads is not None:
        torch.set_num_threads(threads)
    model_dir = Path(path) if path is not None else default_model_dir()
    resolved = resolve_device(device)
    model, _cfg, vocab = load_model_dir(model_dir, resolved)
    return Predictor(model, vocab, resolved, name=model_dir.name, **kwargs)
