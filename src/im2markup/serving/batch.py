"""`im2markup predict` as a library function: many image files in, one line per image out.

Inputs may be files, directories (their image files, sorted), glob patterns (for shells that
do not expand them) or `-` for the bytes of one image on standard input. Results are written in
input order as they are decoded; a bad image costs one message on stderr, never the batch.
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from im2markup.data.images.user_images import SCALE_MULTIPLIERS
from im2markup.serving.inputs import ImageSource
from im2markup.serving.predictor import FailedPrediction, Predictor, Result, load_model

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
PROGRESS_FROM = 5


@dataclass(frozen=True)
class Item:
    """One input: its display name and what to read (`None` when it does not exist)."""

    name: str
    source: ImageSource | None
    error: str | None = None


def expand_inputs(arguments: Sequence[str], max_bytes: int | None = None) -> list[Item]:
    """Files, directory contents, glob matches and `-` (stdin), in the order given.

    Standard input is read up to one byte past `max_bytes`, enough for the size check to
    refuse it without holding an unbounded stream in memory.
    """
    items: list[Item] = []
    for argument in arguments:
        if argument == "-":
            limit = -1 if max_bytes is None else max_bytes + 1
            items.append(Item("-", sys.stdin.buffer.read(limit)))
            continue
        path = Path(argument)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                items.append(Item(argument, None, "directory holds no image files"))
            items.extend(_file_item(str(p)) for p in files)
        elif path.exists():
            items.append(Item(argument, path))
        elif glob.has_magic(argument):
            matches = sorted(glob.glob(argument))
            if not matches:
                items.append(Item(argument, None, "no file matches this pattern"))
            items.extend(_file_item(m) for m in matches)
        else:
            items.append(Item(argument, None, "no such file or directory"))
    return items


def _file_item(name: str) -> Item:
    """A directory entry or glob match; anything but a regular file is reported, not read."""
    path = Path(name)
    return Item(name, path) if path.is_file() else Item(name, None, "not a regular file")


def predict_command(
    arguments: Sequence[str],
    *,
    model: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    batch_size: int = 16,
    output: str = "latex",
    beam_size: int | None = None,
    verify: bool = False,
    refine: bool = False,
    crohme: bool = False,
    single_scale: bool = False,
    handwritten: bool = False,
    fp32: bool = False,
) -> int:
    """`im2markup predict`: load the model, then `predict_files`; set-up problems (no model,
    no LaTeX for `verify` or `refine`) are reported on stderr with status 2. `crohme` keeps
    the output to CROHME's symbols; `handwritten` takes the bundled handwriting model (unless
    `model` names one) and CROHME's symbols; `single_scale` decodes once at the estimated
    scale instead of searching (`Predictor`); `fp32` keeps float32 weights on a CPU
    (`load_model`)."""
    from im2markup.data.render import RenderError
    from im2markup.data.render.compile import require_programs

    try:
        predictor = load_model(
            model,
            device=device,
            threads=threads,
            batch_size=batch_size,
            crohme=crohme,
            handwritten=handwritten,
            scale_multipliers=(1.0,) if single_scale else SCALE_MULTIPLIERS,
            int8=not fp32,
        )
        if verify or refine:
            require_programs()
    except (OSError, ValueError, RuntimeError) as err:
        kind = ("--refine" if refine else "--verify") if isinstance(err, RenderError) else "model"
        print(f"im2markup predict: {kind}: {err}", file=sys.stderr)
        return 2
    return predict_files(
        predictor, arguments, output=output, beam_size=beam_size, verify=verify, refine=refine
    )


def predict_files(
    predictor: Predictor,
    arguments: Sequence[str],
    *,
    output: str = "latex",
    beam_size: int | None = None,
    verify: bool = False,
    refine: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Predict every input and write one line each; returns the exit status.

    `output` is `latex`, `tokens` or `json`. With several inputs a plain line is
    `NAME<TAB>TEXT`. The status is 0 when at least one image was read, 1 when none was.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    items = expand_inputs(arguments, predictor.limits.max_bytes)
    readable = [item for item in items if item.source is not None]
    results = predictor.iter_predict(
        (item.source for item in readable), beam_size=beam_size, verify=verify, refine=refine
    )
    progress = tqdm(
        total=len(items), unit="image", file=err, disable=len(items) < PROGRESS_FROM, leave=False
    )
    n_ok = 0
    with progress:
        for item, result in _in_order(items, results):
            if isinstance(result, FailedPrediction):
                progress.write(f"im2markup: {item.name}: {result.error}", file=err)
            else:
                n_ok += 1
            line = _line(item.name, result, output, several=len(items) > 1)
            if line is not None:
                out.write(line + "\n")
                out.flush()
            progress.update()
    return 0 if n_ok else 1


def _in_order(items: list[Item], results: Iterator[Result]) -> Iterator[tuple[Item, Result]]:
    """Pair items with results, giving missing files their failure in place."""
    for item in items:
        if item.source is None:
            yield item, FailedPrediction(item.error or "cannot be read", item.name)
        else:
            yield item, next(results)


def _line(name: str, result: Result, output: str, several: bool) -> str | None:
    """The output line of one result (`None`: a failure in a plain-text format)."""
    if output == "json":
        record: dict[str, object] = {"image": name}
        if isinstance(result, FailedPrediction):
            record.update(latex=None, tokens=None, score=None, error=result.error)
        else:
            record.update(latex=result.latex, tokens=result.tokens, score=round(result.score, 5))
            if result.verified is not None:
                record["verified"] = result.verified
        record["seconds"] = round(result.seconds, 4)
        return json.dumps(record, ensure_ascii=False)
    if isinstance(result, FailedPrediction):
        return None
    text = result.tokens if output == "tokens" else result.latex
    return f"{name}\t{text}" if several else text
