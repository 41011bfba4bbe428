"""The Python API: load a model once, then turn images of formulas into LaTeX.

`Predictor` keeps no per-call state, so one instance may serve several threads at once
(decoding itself keeps its state in local variables, see `model.base`).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from im2markup.data.handwriting.crohme import crohme_mask
from im2markup.data.handwriting.ink_render import INPUT_GLYPH_HEIGHT
from im2markup.data.images.user_images import (
    SCALE_MULTIPLIERS,
    TRAINING_GLYPH_HEIGHT,
    ImageErrorKind,
    ImageInputError,
)
from im2markup.data.vocab import Vocab
from im2markup.inference.batches import Search, decode_images
from im2markup.inference.defaults import BATCH_SIZE
from im2markup.inference.loading import default_model_dir, load_for_inference
from im2markup.latex.detokenizer import detokenize
from im2markup.model.base import Hypothesis, ImageToMarkupModel
from im2markup.model.config import DecodeConfig
from im2markup.model.deadline import DeadlineExceeded, check_deadline
from im2markup.model.well_formed import first_well_formed
from im2markup.serving.inputs import (
    ImageSource,
    ModelInputs,
    describe,
    prepare_inputs,
)
from im2markup.serving.limits import Limits
from im2markup.serving.refine import refine
from im2markup.serving.rerank import rerank
from im2markup.serving.scale_search import Decode, Key, choose_scales

log = logging.getLogger(__name__)


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
class _Options:
    """What one call asks of every image: beam width, attention maps, verification or
    refinement by rendering, and the `time.monotonic()` deadline past which the call stops
    (`DeadlineExceeded`)."""

    beam_size: int
    attention: bool
    verify: bool
    refine: bool
    deadline: float | None


def _beam_width(beam_size: int | None, default: int) -> int:
    """`beam_size`, `default` when it is None; anything but a positive integer is refused
    rather than decoded some other way."""
    if beam_size is None:
        return default
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive integer or None, got {beam_size!r}")
    return beam_size


class Predictor:
    """A loaded model with everything needed to go from an image to LaTeX.

    `crohme` keeps the output to the symbols of CROHME's handwritten formulas (`crohme_mask`).
    Each image is read greedily at its estimated scale times each of `scale_multipliers`, and
    the reading the model scores highest picks the scale the final (beam) decoding uses
    (`scale_search`, which gives up on a reading as soon as it cannot win); `(1.0,)` decodes
    once, at the estimate. An image well above the training scale, or one near it with thin
    strokes, is also read with heavier strokes, at the same scales (`images.stroke_weight`),
    unless `heavier_strokes` is False. Grain on the paper is taken off first
    (`images.grain`), unless `clear_grain` is False. `glyph_height` is the height of a glyph
    in the model's training images, which an image's glyphs are brought to (printed renders
    by default, `ink_render.INPUT_GLYPH_HEIGHT` for handwriting).
    `own_batches` decodes every image in calls of its own: a model with int8 weights
    (`model.quantize`) quantizes activations per call, so in a shared batch an image's reading
    would depend on its neighbours. `sheet` reads images as writing on paper: light evened
    out, rules and grids taken off (`images.paper_cleanup`).
    """

    def __init__(
        self,
        model: ImageToMarkupModel,
        vocab: Vocab,
        device: torch.device | str = "cpu",
        *,
        beam_size: int = DecodeConfig.beam_size,
        max_len: int | None = None,
        batch_size: int = BATCH_SIZE,
        limits: Limits | None = None,
        verify_styles: tuple[str, ...] | None = None,
        name: str = "model",
        crohme: bool = False,
        scale_multipliers: tuple[float, ...] = SCALE_MULTIPLIERS,
        heavier_strokes: bool = True,
        clear_grain: bool = True,
        own_batches: bool = False,
        glyph_height: float = TRAINING_GLYPH_HEIGHT,
        sheet: bool = False,
    ):
        self.model = model.eval()
        self.vocab = vocab
        self.device = torch.device(device)
        self.beam_size = _beam_width(beam_size, DecodeConfig.beam_size)
        self.max_len = max_len
        self.batch_size = batch_size
        self.limits = limits or Limits()
        self.verify_styles = verify_styles
        self.name = name
        self.allowed_tokens = crohme_mask(vocab).to(self.device) if crohme else None
        self.scale_multipliers = scale_multipliers
        self.heavier_strokes = heavier_strokes
        self.clear_grain = clear_grain
        self.own_batches = own_batches
        self.glyph_height = glyph_height
        self.sheet = sheet

    def predict(
        self,
        source: ImageSource,
        *,
        beam_size: int | None = None,
        attention: bool = False,
        verify: bool = False,
        refine: bool = False,
        deadline: float | None = None,
    ) -> Prediction:
        """LaTeX of one image (a PIL image, a path or the bytes of an image file).

        `verify` reranks the beam by rendering (`rerank`); `refine` also tries close variants
        of the best reading (`refine`). Raises `ImageInputError` when the image cannot be
        used (unreadable, empty, too large, no ink, more than one formula), `ValueError` for
        a `beam_size` that is not a positive integer, and `DeadlineExceeded` once
        `time.monotonic()` passes `deadline`.
        """
        result = self.predict_batch(
            [source],
            beam_size=beam_size,
            attention=attention,
            verify=verify,
            refine=refine,
            deadline=deadline,
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
        refine: bool = False,
        deadline: float | None = None,
    ) -> list[Result]:
        """One result per source, in order; a bad image gives a `FailedPrediction`, never an
        exception for the whole batch (a passed `deadline` stops the whole call)."""
        return list(
            self.iter_predict(
                sources,
                beam_size=beam_size,
                attention=attention,
                verify=verify,
                refine=refine,
                deadline=deadline,
            )
        )

    def model_input(self, source: ImageSource) -> np.ndarray:
        """The padded model input `predict` decodes for `source`: the image at the scale the
        search chooses (raises `ImageInputError` for an unusable image)."""
        inputs = self._prepare(source, None)
        pixels, _ = choose_scales({0: inputs}, self._greedy({0: 0.0}, None))[0]
        return pixels

    def iter_predict(
        self,
        sources: Iterable[ImageSource],
        *,
        beam_size: int | None = None,
        attention: bool = False,
        verify: bool = False,
        refine: bool = False,
        chunk_size: int = 64,
        deadline: float | None = None,
    ) -> Iterator[Result]:
        """Results in input order, reading `chunk_size` images at a time so that a long list
        of files never sits in memory all at once."""
        beam = _beam_width(beam_size, self.beam_size)
        options = _Options(beam, attention, verify, refine, deadline)
        return self._iter_chunks(iter(sources), options, chunk_size)

    def _iter_chunks(
        self, sources: Iterator[ImageSource], options: _Options, chunk_size: int
    ) -> Iterator[Result]:
        while chunk := list(itertools.islice(sources, chunk_size)):
            yield from self._predict_chunk(chunk, options)

    def _predict_chunk(self, sources: list[ImageSource], options: _Options) -> list[Result]:
        results: list[Result] = [FailedPrediction("not decoded")] * len(sources)
        ready: dict[int, ModelInputs] = {}
        seconds: dict[int, float] = {}
        for i, source in enumerate(sources):
            start = time.perf_counter()
            try:
                ready[i] = self._prepare(source, options.deadline)
            except ImageInputError as err:
                seconds_spent = time.perf_counter() - start
                results[i] = FailedPrediction(str(err), describe(source), seconds_spent, err.kind)
            except DeadlineExceeded:
                raise
            except Exception as err:  # an image no reader foresaw must not cost the batch
                log.exception("unexpected failure reading %s", describe(source))
                seconds_spent = time.perf_counter() - start
                reason = f"the image could not be read ({type(err).__name__}: {err})"
                results[i] = FailedPrediction(reason, describe(source), seconds_spent, "corrupt")
            else:
                seconds[i] = time.perf_counter() - start
        chosen = choose_scales(ready, self._greedy(seconds, options.deadline))
        beam, attention = options.beam_size, options.attention
        again = [
            ((i, 0), pixels)
            for i, (pixels, hyp) in chosen.items()
            if hyp is None or beam > 1 or attention
        ]
        search = Search(beam, self.max_len, attention, self.allowed_tokens, options.deadline)
        final = self._decode(again, search, seconds)
        for i, (pixels, hyp) in chosen.items():
            start = time.perf_counter()
            hyp, verified = first_well_formed(final.get((i, 0), hyp), self.vocab), None
            if options.refine:
                check_deadline(options.deadline)
                n_best = hyp.n_best or [hyp]
                hyp, verified = refine(
                    ready[i].native,
                    n_best,
                    self.vocab,
                    self.verify_styles,
                    self.limits,
                    options.deadline,
                )
            elif options.verify:
                check_deadline(options.deadline)
                n_best = hyp.n_best or [hyp]
                hyp, verified = rerank(
                    ready[i].native, n_best, self.vocab, self.verify_styles, self.limits
                )
            seconds[i] += time.perf_counter() - start
            results[i] = self._prediction(hyp, pixels, attention, verified, seconds[i])
        return results

    @property
    def screening_settings(self) -> tuple[Limits, bool, float, bool]:
        """The arguments after the image of `inputs.screen_image` that read as `predict` does
        (plain values, to send to a screening process): it raises `ImageInputError` for an
        image `predict` would refuse, at the cost of reading it once, without decoding."""
        return self.limits, self.clear_grain, self.glyph_height, self.sheet

    def _prepare(self, source: ImageSource, deadline: float | None) -> ModelInputs:
        return prepare_inputs(
            source,
            self.limits,
            self.scale_multipliers,
            self.heavier_strokes,
            self.clear_grain,
            self.glyph_height,
            self.sheet,
            deadline,
        )

    def _greedy(self, seconds: dict[int, float], deadline: float | None) -> Decode:
        """The scale search's way to read candidates: greedily, each given up below its floor."""
        search = Search(1, self.max_len, False, self.allowed_tokens, deadline)
        return lambda items, floors: self._decode(items, search, seconds, floors)

    def _decode(
        self,
        items: list[tuple[Key, np.ndarray]],
        search: Search,
        seconds: dict[int, float],
        floors: Sequence[float] | None = None,
    ) -> dict[Key, Hypothesis]:
        """Decode `(image index, candidate)` inputs, those of one size together, at most
        `batch_size` at a time (and one image's alone with `own_batches`); each adds its share
        of its batch's time to its image's."""
        apart = [key[0] for key, _ in items] if self.own_batches else None
        images = [pixels for _, pixels in items]
        results = decode_images(
            self.model, images, self.device, search, self.batch_size, apart, floors
        )
        decoded: dict[Key, Hypothesis] = {}
        for (key, _), (hyp, share) in zip(items, results, strict=True):
            decoded[key] = hyp
            seconds[key[0]] += share
        return decoded

    def _prediction(
        self,
        hyp: Hypothesis,
        pixels: np.ndarray,
        attention: bool,
        verified: bool | None,
        seconds: float,
    ) -> Prediction:
        tokens = self.vocab.decode(hyp.token_ids)
        maps = None
        if attention and hyp.attention is not None:
            maps = [m.float().cpu().numpy() for m in hyp.attention[: len(tokens)]]
        return Prediction(
            latex=detokenize(" ".join(tokens)),
            tokens=" ".join(tokens),
            score=float(hyp.score),
            seconds=seconds,
            attention=maps,
            verified=verified,
            input_image=Image.fromarray(pixels),
        )


def load_model(
    path: str | Path | None = None,
    device: str = "cpu",
    *,
    threads: int | None = None,
    handwritten: bool = False,
    int8: bool = True,
    **kwargs: Any,
) -> Predictor:
    """A `Predictor` for the model directory `path` (the bundled model when `None`).

    `handwritten` picks the bundled handwriting model (when `path` is `None`), keeps the
    output to CROHME's symbols, the set it was trained to write, and reads images as
    handwriting: glyphs brought to the size of the drawn training inks, strokes as they are,
    paper evened out and its rules taken off.

    `threads` sets PyTorch's CPU threads for the whole process and `int8` decodes with int8
    recurrent and linear weights, and bf16 convolutions where the CPU has bf16, when decoding
    on a CPU (`inference.loading.load_for_inference`). The beam width and the longest output
    are those saved with the model unless given (`None` counts as not given). Other keyword
    arguments go to `Predictor` (`beam_size`, `batch_size`, `max_len`, `limits`,
    `verify_styles`, `crohme`, `scale_multipliers`).
    """
    model_dir = Path(path) if path is not None else default_model_dir(handwritten)
    if handwritten:
        kwargs["crohme"] = True
        kwargs.setdefault("glyph_height", INPUT_GLYPH_HEIGHT)
        kwargs.setdefault("heavier_strokes", False)
        kwargs.setdefault("sheet", True)
    loaded = load_for_inference(model_dir, device, threads=threads, int8=int8)
    for key, saved in (("beam_size", loaded.decode.beam_size), ("max_len", loaded.decode.max_len)):
        if kwargs.get(key) is None:
            kwargs[key] = saved
    return Predictor(
        loaded.model,
        loaded.vocab,
        loaded.device,
        name=model_dir.name,
        own_batches=loaded.int8,
        **kwargs,
    )
