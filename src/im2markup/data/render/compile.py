"""One TeX run over a batch document, and what its log says about every formula.

TeX runs in nonstop mode, so an ordinary error (an undefined command) costs only its own
formula: its box is ignored and the error line becomes the reason. A run can also die (an
emergency stop, a timeout): then the markers tell which formula was being typeset when it
died (the *suspect*), and the formulas without a verdict are left for the caller to retry.
The terminal output is read rather than the log file because it survives a killed run
(`stdbuf` makes it line-buffered where available).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from im2markup.data.render.templates import MARKER, Style, batch_document

# Extra seconds a batch gets per formula on top of the one-formula timeout.
SECONDS_PER_FORMULA = 0.02
_OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)")
_ERROR_CONTEXT = re.compile(r"^l\.\d+ (.*)$")
_REASON_LIMIT = 300
# Seconds past its own limit after which coreutils' `timeout` kills a command whose caller
# died before it could (a killed evaluation must not leave TeX running).
_WATCHDOG_GRACE = 2.0


class RenderError(RuntimeError):
    """A problem with the set-up (a missing program), not with a formula."""


@dataclass
class FormulaLog:
    """What the log says about one formula of the batch.

    `verdict` is "ok" (typeset without error), "error" (`reason` says why), "overfull" (the
    display is `overfull_pt` wider than its `width_pt` line: render it again on a wider one)
    or "retry" (the run died before the formula was judged, or a formula before it broke
    TeX's state). The formula's pixels are rows `bottom_px - height_px` to `bottom_px` of
    sheet `sheet` (1-based).
    """

    verdict: str = "retry"
    reason: str | None = None
    sheet: int = 0
    bottom_px: int = 0
    height_px: int = 0
    width_pt: float = 0.0
    overfull_pt: float = 0.0


@dataclass
class BatchLog:
    """The outcome of one pdflatex run: the PDF if one was written, and per-formula verdicts."""

    pdf: Path | None
    formulas: list[FormulaLog]
    suspect: int | None = None
    died: str | None = None
    timed_out: bool = False


# Inherited, these would let TeX read beyond the work directory: paranoid mode still opens
# absolute paths under TEXMFOUTPUT, and TEXINPUTS adds directories to the input search path.
_WIDENING_VARIABLES = frozenset({"TEXMFOUTPUT", "TEXINPUTS"})


def tex_environment() -> dict[str, str]:
    """The environment of every TeX run: files only in the work directory, no font generation
    (it would run programs and write outside), long unwrapped log lines."""
    env = {k: v for k, v in os.environ.items() if k not in _WIDENING_VARIABLES}
    env.update(
        openin_any="p",
        openout_any="p",
        shell_escape="f",
        max_print_line="100000",
        error_line="250",
        half_error_line="230",
        MKTEXPK="0",
        MKTEXTFM="0",
        MKTEXMF="0",
    )
    return env


@dataclass(frozen=True)
class Finished:
    """A finished subprocess; `timed_out` runs were killed, their output is what came before."""

    stdout: bytes
    stderr: bytes
    returncode: int
    timed_out: bool


def run_bounded(
    command: Sequence[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> Finished:
    """Run `command` with no input for at most `timeout` seconds. On timeout the whole process
    group is killed (xelatex runs xdvipdfmx as a child) and the output so far is kept. The
    group stays in the caller's session: under Linux's autogroup scheduling a new session
    would get its own CPU share and ignore the caller's nice level."""
    watchdog = shutil.which("timeout")
    if watchdog is not None:
        command = [watchdog, "--signal=KILL", f"{timeout + _WATCHDOG_GRACE:.1f}", *command]
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            timed_out = True
    return Finished(stdout, stderr, process.returncode, timed_out)


def require_programs(engine: str = "pdflatex") -> None:
    """Raise `RenderError` naming whichever of the TeX engine and Ghostscript is missing."""
    missing = [name for name in (engine, "gs") if shutil.which(name) is None]
    if missing:
        raise RenderError(f"rendering needs {' and '.join(missing)}, not found on PATH")


def compile_batch(
    style: Style,
    formulas: Sequence[str],
    workdir: Path,
    nonce: str,
    timeout: float,
    dpi: int,
    line_width_pt: float | None = None,
) -> BatchLog:
    """Typeset `formulas` (already checked) on the sheets of `workdir/batch.pdf`, judge each."""
    source = workdir / "batch.tex"
    document = batch_document(style, formulas, nonce, dpi, line_width_pt)
    source.write_text(document, encoding="utf-8")
    command = [
        style.engine,
        "-interaction=nonstopmode",
        "-no-shell-escape",
        source.name,
    ]
    if shutil.which("stdbuf"):
        command = ["stdbuf", "-oL", *command]
    limit = timeout + SECONDS_PER_FORMULA * len(formulas)
    run = run_bounded(command, workdir, limit, tex_environment())
    output, timed_out = run.stdout, run.timed_out
    pdf = workdir / "batch.pdf"
    log = parse_log(
        output.decode("utf-8", errors="replace"), len(formulas), f"{MARKER}{nonce}", timed_out
    )
    log.pdf = pdf if pdf.is_file() and not timed_out else None
    log.timed_out = timed_out
    if timed_out:
        log.died = f"TeX did not finish within {limit:.1f} s"
    if log.pdf is None:
        for entry in log.formulas:
            if entry.verdict in ("ok", "overfull"):
                entry.verdict = "retry"
    return log


def parse_log(text: str, count: int, tag: str, timed_out: bool = False) -> BatchLog:
    """Per-formula verdicts from the terminal output of a batch run (see `batch_document`)."""
    formulas = [FormulaLog() for _ in range(count)]
    log = BatchLog(pdf=None, formulas=formulas)
    base_levels: str | None = None
    current: int | None = None
    events = _Events()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        marker = line.find(tag + " ")
        if marker >= 0:
            kind, *fields = line[marker + len(tag) + 1 :].split()
            if kind in ("begin", "end"):
                index, levels = int(fields[0]), " ".join(fields[1:])
                if kind == "begin":
                    base_levels = base_levels or levels
                    current, events = index, _Events()
                elif index == current:
                    events.judge(formulas[index])
                    current = None
                    if levels != base_levels:
                        formulas[index].verdict = "error"
                        formulas[index].reason = (
                            events.errors[0]
                            if events.errors
                            else "the formula leaves a group or conditional open"
                        )
                        return log
            elif current is not None and kind in ("slot", "large"):
                getattr(events, kind).append(fields)
            continue
        if current is None:
            continue
        if line.startswith("! "):
            events.errors.append(line[2:].strip() + _context(lines, i))
        elif match := _OVERFULL.match(line):
            events.overfull = max(events.overfull, float(match.group(1)))
    if current is not None:
        log.suspect = current
        log.died = events.errors[0] if events.errors else None
        if events.errors and not timed_out:
            formulas[current].reason = events.errors[0]
    return log


@dataclass
class _Events:
    """What the log said between one formula's begin and end markers."""

    errors: list[str] = field(default_factory=list)
    slot: list[list[str]] = field(default_factory=list)
    large: list[list[str]] = field(default_factory=list)
    overfull: float = 0.0

    def judge(self, entry: FormulaLog) -> None:
        if self.errors:
            entry.verdict, entry.reason = "error", self.errors[0]
        elif self.large:
            width, height = self.large[0]
            entry.verdict = "error"
            entry.reason = f"the formula is too large to rasterize ({width}×{height} px)"
        elif len(self.slot) != 1:
            entry.verdict = "error"
            entry.reason = f"the formula made {len(self.slot)} boxes instead of 1"
        else:
            sheet, bottom, height, width = self.slot[0]
            entry.sheet, entry.bottom_px, entry.height_px = int(sheet), int(bottom), int(height)
            entry.width_pt = float(width.removesuffix("pt"))
            entry.verdict = "overfull" if self.overfull > 0 else "ok"
            entry.overfull_pt = self.overfull


def _context(lines: list[str], i: int) -> str:
    """` at '…'`: the end of the source line where TeX stopped, from the error's `l.N` line."""
    for line in lines[i + 1 : i + 12]:
        if match := _ERROR_CONTEXT.match(line):
            text = " ".join(match.group(1).split())
            return f" at '{text[-60:]}'" if text else ""
        if line.startswith("! "):
            break
    return ""


def clean_reason(reason: str) -> str:
    """One line without tabs, short enough for `errors.tsv`."""
    text = " ".join(reason.split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"
