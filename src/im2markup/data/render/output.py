"""Render results on disk: `k.png` per rendered formula and `errors.tsv` for the others."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from im2markup.data.render.renderer import RenderResult, render_formulas

ERRORS_FILE = "errors.tsv"


def write_results(results: Iterable[RenderResult], out_dir: Path) -> tuple[int, int]:
    """Write `out_dir/<index>.png` and `out_dir/errors.tsv` (`index<TAB>reason` per failure).

    Returns (images written, failures). `errors.tsv` is always written, empty when nothing
    failed, so a stale one from an earlier run never survives.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = failed = 0
    with open(out_dir / ERRORS_FILE, "w", encoding="utf-8") as errors:
        for result in results:
            if result.image is not None:
                result.image.save(out_dir / f"{result.index}.png")
                written += 1
            else:
                reason = " ".join((result.error or "unknown error").split())
                errors.write(f"{result.index}\t{reason}\n")
                failed += 1
    return written, failed


@dataclass(frozen=True)
class RenderSummary:
    total: int
    written: int
    failed: int


def render_file(formulas_path: Path, out_dir: Path, **options: object) -> RenderSummary:
    """Render line k (from 0) of a text file to `out_dir/k.png`; `options` go to `render_formulas`.

    Raises `OSError` / `UnicodeDecodeError` when the file cannot be read as UTF-8.
    """
    lines = Path(formulas_path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    written, failed = write_results(render_formulas(lines, **options), out_dir)
    return RenderSummary(len(lines), written, failed)
