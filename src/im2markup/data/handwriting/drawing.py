"""Many formulas drawn by `render_handwritten` on every core, reproducibly.

The formulas are cut into chunks of `CHUNK`; each chunk is drawn in a worker process (the
distortions are pure Python and NumPy, one core each) with its own seed, derived from the
build's seed, the part of the build, the copy and the chunk number (`SEEDS`). The same
arguments therefore give the same images, however many workers run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from im2markup.data.handwriting.distort import Distortion
from im2markup.data.handwriting.render import render_handwritten
from im2markup.data.render import RenderResult
from im2markup.paths import cache_dir

CHUNK = 128
SEEDS = f"chunks of {CHUNK} formulas, chunk seed SeedSequence([seed, part, copy, chunk])"


def _chunk_seed(seed: int, part: int, copy: int, chunk: int) -> int:
    return int(np.random.SeedSequence([seed, part, copy, chunk]).generate_state(1)[0])


def _draw(job: tuple[list[str], int, Distortion, Path]) -> list[RenderResult]:
    """One chunk, in a worker process (the distortions need a core of their own)."""
    formulas, seed, distortion, cache = job
    return render_handwritten(
        formulas, seed=seed, distortion=distortion, workers=1, cache_dir=cache
    )


class Drawer:
    """Handwritten renders of many formulas on `workers` processes, in order.

    A context manager: the worker processes live until it exits. `cache` is the render cache
    of the typeset pages (default `<cache>/renders`).
    """

    def __init__(self, seed: int, workers: int, cache: Path | None, progress: bool = True):
        self.seed = seed
        self.cache = cache or cache_dir() / "renders"
        self.progress = progress
        self.executor = ProcessPoolExecutor(max_workers=workers)

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.executor.shutdown(cancel_futures=True)

    def __call__(
        self,
        formulas: Sequence[str],
        part: int,
        copy: int,
        distortion: Distortion,
        desc: str,
        total: int | None = None,
    ) -> Iterator[RenderResult]:
        """Results in order; a caller that stops early cancels the chunks not yet started.

        `total` is what the progress bar counts to (default: every formula).
        """
        starts = range(0, len(formulas), CHUNK)
        jobs = [
            (
                list(formulas[s : s + CHUNK]),
                _chunk_seed(self.seed, part, copy, n),
                distortion,
                self.cache,
            )
            for n, s in enumerate(starts)
        ]
        bar = tqdm(total=total or len(formulas), desc=desc, disable=not self.progress)
        with bar:
            for start, results in zip(starts, self.executor.map(_draw, jobs), strict=True):
                for result in results:
                    yield RenderResult(start + result.index, result.image, result.error)
                    bar.update()
