"""`render_tex`: many formulas → images through TeX, in parallel batches, failures isolated.

Formulas are checked, looked up in the cache, deduplicated and typeset many to a TeX run
(many to a PDF page, see `templates`), batches running side by side in threads (the work
happens in TeX and Ghostscript). A batch reports a verdict per formula; those it could not
judge (the run died) are typeset again: the formula that was being typeset when it died
alone, the others together, and, when the log names no culprit, each half on its own. So a
bad formula only ever costs itself, and every failure carries the reason TeX gave. A display
wider than the line is typeset again on a line wide enough, so nothing is clipped.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from im2markup.data.images.preprocess import downsample, ink_bbox, pad
from im2markup.data.render.cache import RenderCache
from im2markup.data.render.checks import MAX_CHARS, precheck
from im2markup.data.render.compile import (
    SECONDS_PER_FORMULA,
    BatchLog,
    RenderError,
    clean_reason,
    compile_batch,
    require_programs,
)
from im2markup.data.render.dimensions import join_dimensions
from im2markup.data.render.rasterize import RasterizeError, drop_alpha, rasterize
from im2markup.data.render.templates import Style, get_style
from im2markup.data.render.work_dirs import work_dir

DEFAULT_DPI = 200
BATCH_SIZE = 256
# Room added to the line beyond what an overfull display reported.
_LINE_MARGIN_PT = 20.0


@dataclass(frozen=True)
class RenderResult:
    """The image of formula `index` (grayscale, "L"), or `None` and the reason it failed."""

    index: int
    image: Image.Image | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.image is not None


@dataclass(frozen=True)
class _Job:
    uids: tuple[int, ...]
    line_width_pt: float | None = None


@dataclass
class _Report:
    images: dict[int, Image.Image] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    transient: set[int] = field(default_factory=set)
    to_rasterize: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    suspect: int | None = None
    overfull: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Settings:
    style: Style
    processed: bool
    composited: bool
    dpi: int
    timeout: float

    def cache_settings(self) -> dict[str, object]:
        return {
            "preamble": self.style.preamble,
            "open": self.style.open,
            "close": self.style.close,
            "engine": self.style.engine,
            "processed": self.processed,
            "composited": self.composited,
            "dpi": self.dpi,
        }


def render_tex(
    formulas: Sequence[str],
    style: str = "paper",
    processed: bool = True,
    *,
    workers: int = 2,
    timeout: float = 10.0,
    cache_dir: Path | None = None,
    progress: bool = False,
    composited: bool = False,
    dpi: int = DEFAULT_DPI,
    batch_size: int = BATCH_SIZE,
    max_chars: int = MAX_CHARS,
    prefixes: Sequence[str] | None = None,
) -> list[RenderResult]:
    """Render every formula; one `RenderResult` per input, in order.

    `processed` images are cropped to the ink, padded 8 px and downsampled ×2 (the paper's
    steps short of bucketing, see `im2markup.data.images.preprocess`); otherwise the full-resolution
    crop. By default every pixel a glyph touches is black (the bold strokes of the paper's and
    the shared images); `composited=True` keeps the thin anti-aliased strokes. `timeout` bounds
    one formula's TeX or Ghostscript run (a batch gets a little more per formula), `workers`
    the number of batches typeset at once. Failures are cached too, except timeouts.
    `prefixes` (one per formula) is the caller's own TeX, typeset on a line before its formula
    once the formula has passed the checks (the handwriting renderer's font switch).
    """
    settings = _Settings(get_style(style), processed, composited, dpi, timeout)
    require_programs(settings.style.engine)
    cache = RenderCache(cache_dir) if cache_dir is not None else None
    results: list[RenderResult | None] = [None] * len(formulas)
    unique: dict[str, list[int]] = {}
    with tqdm(total=len(formulas), disable=not progress, unit="formula", desc="render") as bar:
        for index, formula in enumerate(formulas):
            source = _tex_source(formula)
            reason = precheck(source, max_chars)
            if reason is not None:
                results[index] = RenderResult(index, None, reason)
                bar.update(1)
            else:
                if prefixes is not None and prefixes[index]:
                    source = f"{prefixes[index]}\n{source}"
                prepare = settings.style.prepare
                unique.setdefault(prepare(source) if prepare else source, []).append(index)
        texts = list(unique)
        keys = [RenderCache.key(settings.cache_settings(), t) for t in texts]
        todo = []
        for uid, text in enumerate(texts):
            hit = cache.get(keys[uid]) if cache is not None else None
            if hit is None:
                todo.append(uid)
                continue
            image, error = (None, hit) if isinstance(hit, str) else (hit, None)
            for index in unique[text]:
                results[index] = RenderResult(index, image, error)
            bar.update(len(unique[text]))

        def finish(uid: int, image: Image.Image | None, error: str | None) -> None:
            for index in unique[texts[uid]]:
                results[index] = RenderResult(index, image, error)
            bar.update(len(unique[texts[uid]]))

        _run_jobs(settings, texts, keys, cache, todo, workers, batch_size, finish)
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:  # callers pair results with inputs by position: never return fewer
        raise RenderError(f"no render result for formulas {missing[:5]} of {len(formulas)}")
    return [r for r in results if r is not None]


def _tex_source(formula: str) -> str:
    """The formula as it goes into the template: no blank lines (a paragraph break ends math
    mode), and dimensions that the normalized form split into letters joined again. This is
    what the checks see; a style's own rewrite (`Style.prepare`, which may use the template's
    macros) comes after them."""
    return join_dimensions("\n".join(line for line in formula.splitlines() if line.strip()))


def _run_jobs(
    settings: _Settings,
    texts: list[str],
    keys: list[str],
    cache: RenderCache | None,
    todo: list[int],
    workers: int,
    batch_size: int,
    finish: Callable[[int, Image.Image | None, str | None], None],
) -> None:
    """Run batches until every formula in `todo` has an image or a reason."""
    size = max(1, min(batch_size, -(-len(todo) // max(1, workers))))
    jobs = [_Job(tuple(todo[i : i + size])) for i in range(0, len(todo), size)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running: dict[Future[_Report], _Job] = {}

        def submit(job: _Job) -> None:
            running[pool.submit(_run_job, settings, job, texts, keys, cache)] = job

        for job in jobs:
            submit(job)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                report = future.result()
                for uid, image in report.images.items():
                    finish(uid, image, None)
                for uid, reason in report.failures.items():
                    finish(uid, None, reason)
                for follow_up in _follow_ups(job, report):
                    submit(follow_up)


def _follow_ups(job: _Job, report: _Report) -> list[_Job]:
    """The batches that judge what `job` could not: always smaller than `job`, so it ends."""
    jobs = []
    if report.overfull:
        width = max(report.overfull.values())
        jobs.append(_Job(tuple(report.overfull), width))
    retry = [uid for uid in report.retry if uid != report.suspect]
    if report.suspect is not None:
        jobs.append(_Job((report.suspect,), job.line_width_pt))
    if not retry:
        return jobs
    if report.suspect is None and len(retry) == len(job.uids):
        half = len(retry) // 2
        jobs += [_Job(tuple(retry[:half]), job.line_width_pt)]
        retry = retry[half:]
    jobs.append(_Job(tuple(retry), job.line_width_pt))
    return jobs


def _run_job(
    settings: _Settings,
    job: _Job,
    texts: list[str],
    keys: list[str],
    cache: RenderCache | None,
) -> _Report:
    """Typeset and rasterize one batch in a private directory that is removed afterwards."""
    with work_dir("batch-") as tmp:
        log = compile_batch(
            settings.style,
            [texts[uid] for uid in job.uids],
            Path(tmp),
            secrets.token_hex(8),
            settings.timeout,
            settings.dpi,
            job.line_width_pt,
        )
        report = _judge(job, log)
        if report.to_rasterize:
            _rasterize_sheets(settings, job, log, report)
    if cache is not None:
        for uid, image in report.images.items():
            cache.put_image(keys[uid], image)
        for uid, reason in report.failures.items():
            if uid not in report.transient:
                cache.put_failure(keys[uid], reason)
    return report


def _judge(job: _Job, log: BatchLog) -> _Report:
    """Sort the batch's formulas by verdict: failed, to rasterize, or to typeset again."""
    report = _Report()
    solo = len(job.uids) == 1
    for position, (uid, entry) in enumerate(zip(job.uids, log.formulas, strict=True)):
        verdict = entry.verdict
        if verdict == "overfull" and job.line_width_pt is None:
            report.overfull[uid] = entry.width_pt + entry.overfull_pt + _LINE_MARGIN_PT
        elif verdict in ("ok", "overfull"):
            report.to_rasterize.append(uid)
        elif verdict == "error":
            report.failures[uid] = clean_reason(entry.reason or "TeX error")
        elif solo or position == log.suspect:
            if solo:
                reason = entry.reason or log.died or "TeX stopped before the formula was done"
                report.failures[uid] = clean_reason(reason)
                if log.timed_out:
                    report.transient.add(uid)
            else:
                report.suspect = uid
                report.retry.append(uid)
        else:
            report.retry.append(uid)
    return report


def _rasterize_sheets(settings: _Settings, job: _Job, log: BatchLog, report: _Report) -> None:
    """Cut the formulas of `report.to_rasterize` out of their sheets into `report.images`."""
    position = {uid: i for i, uid in enumerate(job.uids)}
    entries = {uid: log.formulas[position[uid]] for uid in report.to_rasterize}
    sheets = sorted({entry.sheet for entry in entries.values()})
    limit = settings.timeout + SECONDS_PER_FORMULA * len(entries)
    assert log.pdf is not None
    try:
        pages = dict(zip(sheets, rasterize(log.pdf, sheets, settings.dpi, limit), strict=True))
    except RasterizeError as error:
        if len(job.uids) == 1:
            report.failures[job.uids[0]] = clean_reason(str(error))
            report.transient.add(job.uids[0])
        else:
            report.retry.extend(entries)
        return
    for uid, entry in entries.items():
        strip = pages[entry.sheet][max(0, entry.bottom_px - entry.height_px) : entry.bottom_px]
        box = ink_bbox(strip)
        if box is None:
            report.failures[uid] = "the formula renders no ink"
            continue
        left, top, right, bottom = box
        ink = strip[top:bottom, left:right]
        image = Image.fromarray(ink if settings.composited else drop_alpha(ink))
        report.images[uid] = downsample(pad(image)) if settings.processed else image
