"""Where each handwritten symbol of a formula goes: CROHME symbol boxes from TeX's own layout.

Synthetic handwriting in the paper's recipe lays a formula out as LaTeX would and draws every
symbol with a real handwritten sample of its class. Here each formula is typeset by `latex` (DVI
mode) in the paper's template, and the DVI and the fonts' TFM metrics (`dvi`) give every glyph
and rule a box in TeX points. The boxes are then named with the classes of the CROHME inks'
symbol segmentation and merged where CROHME sees one symbol in several TeX pieces: a radical
and its overbar are one `\\sqrt`, `\\not` and `=` one `\\neq`, three dots one `\\ldots` or
`\\cdots`, the letters of an upright `sin`, `cos`, `tan`, `log`, `lim` one function name, the
pieces of an extensible delimiter one delimiter; a fraction bar is a `-`.

Paired brackets are typeset as `\\left … \\right`, fractions outside scripts as `\\dfrac` and
`\\sum` at its text size (`typeset_form`), because handwriting draws brackets as tall as what
they enclose, nested fractions as large as the outer one and sums smaller than TeX's display
size; the label keeps the plain form. Formulas go through the renderer's checks and run many
to a TeX run, each with a timeout; a formula that fails, or that has a glyph no CROHME class
names, gets an error and costs only itself.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from im2markup.data.handwriting.crohme import from_normalized
from im2markup.data.handwriting.dvi import DviError, Mark, Page, read_dvi
from im2markup.data.render.checks import precheck
from im2markup.data.render.compile import (
    SECONDS_PER_FORMULA,
    RenderError,
    clean_reason,
    parse_log,
    run_bounded,
    tex_environment,
)
from im2markup.data.render.dimensions import join_dimensions
from im2markup.data.render.templates import MARKER, get_style
from im2markup.data.render.work_dirs import work_dir

BATCH_SIZE = 256
FUNCTIONS = {"sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "log": r"\log", "lim": r"\lim"}
_SQRT = r"\sqrt"
_LETTERS = {c: chr(c) for c in (*range(65, 91), *range(97, 123))}
_CMR = {
    **{c: chr(c) for c in range(48, 58)},
    **_LETTERS,
    **{ord(c): c for c in "+=()[]!/,."},
    1: r"\Delta",
}
_CMMI = {
    **_LETTERS,
    11: r"\alpha", 12: r"\beta", 13: r"\gamma", 18: r"\theta", 21: r"\lambda", 22: r"\mu",
    25: r"\pi", 27: r"\sigma", 30: r"\phi", 58: ".", 59: ",", 60: r"\lt", 61: "/", 62: r"\gt",
}  # fmt: skip
_CMSY = {
    0: "-", 1: r"\cdot", 2: r"\times", 4: r"\div", 6: r"\pm", 20: r"\leq", 21: r"\geq",
    33: r"\rightarrow", 48: r"\prime", 49: r"\infty", 50: r"\in", 56: r"\forall",
    57: r"\exists", 102: r"\{", 103: r"\}", 106: "|", 112: _SQRT,
}  # fmt: skip
_CMEX_SIZED = {
    **dict.fromkeys((0, 16, 18, 32), "("), **dict.fromkeys((1, 17, 19, 33), ")"),
    **dict.fromkeys((2, 104, 20, 34), "["), **dict.fromkeys((3, 105, 21, 35), "]"),
    **dict.fromkeys((8, 110, 26, 40), r"\{"), **dict.fromkeys((9, 111, 27, 41), r"\}"),
    **dict.fromkeys((112, 113, 114, 115), _SQRT),
}  # fmt: skip
_CMEX_OPERATORS = {80: r"\sum", 88: r"\sum", 82: r"\int", 90: r"\int"}
_CMEX_PIECES: dict[int, str | None] = {
    **dict.fromkeys((48, 64, 66), "("), **dict.fromkeys((49, 65, 67), ")"),
    **dict.fromkeys((50, 52, 54), "["), **dict.fromkeys((51, 53, 55), "]"),
    **dict.fromkeys((56, 58, 60), r"\{"), **dict.fromkeys((57, 59, 61), r"\}"),
    **dict.fromkeys((116, 117, 118), _SQRT), 12: "|", 62: None,
}  # fmt: skip
"""Pieces of extensible delimiters; 62 (a brace's straight part) belongs to either brace."""
_NOT_SLASH = ("cmsy", 54)
_DOTS = {".": r"\ldots", r"\cdot": r"\cdots"}
_FAMILY = re.compile(r"^(cmr|cmmi|cmsy|cmex)\d+$")
_TOUCH_PT = 0.5
"""Largest gap between the letters of one word, and between pieces of one delimiter (pt)."""
_DOT_GAP_PT = 3.0
"""Largest gap between the three dots of an ellipsis (`\\ldots` sets them a thin space, 2 pt,
apart; scripts and three periods typed one after the other set them closer)."""

_OPENERS = {"(": r"\left(", "[": r"\left[", r"\{": r"\left\{"}
_CLOSERS = {")": r"\right)", "]": r"\right]", r"\}": r"\right\}"}
_HANDWRITTEN_SIZE = {r"\frac": r"\dfrac", r"\sum": r"\mathop { \textstyle \sum }"}
"""Outside scripts: fractions at full size, `\\sum` at its text size with its limits above and
below (display size is about 1.5 times the size people write it, measured on the CROHME inks)."""
_NOT_DRAWN = frozenset({"{", "}", "^", "_", r"\limits"})
_SYMBOL_OF = {r"\frac": "-", "<": r"\lt", ">": r"\gt", "'": r"\prime"}


class LayoutError(ValueError):
    """A typeset formula with a glyph that no CROHME class names."""


@dataclass(frozen=True)
class GlyphBox:
    """One CROHME symbol's place, in TeX points (y down).

    `stretch` marks symbols drawn to fill their box whatever their usual shape (fraction bars,
    radicals with their overbar, delimiters made larger); the others keep their proportions.
    """

    label: str
    x0: float
    y0: float
    x1: float
    y1: float
    stretch: bool = False


@dataclass(frozen=True)
class Layout:
    """The symbol boxes of formula `index`, or why there are none."""

    index: int
    boxes: tuple[GlyphBox, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Frame:
    """A group of the formula being read: its kind, whether it is a script, its open brackets."""

    kind: str
    script: bool
    openers: list[int] = field(default_factory=list)
    bars: list[int] = field(default_factory=list)


def typeset_form(formula: str) -> str:
    """The formula as handwriting lays it out (the label keeps the plain form).

    Each bracket pair of one group is written `\\left … \\right`: any opening bracket pairs
    with the next unpaired closing one of the same group (`[ 0 , 1 )` included), a `|` with the
    next `|`; the brackets of `\\sqrt [ n ]` and unpaired ones stay. Outside scripts a
    fraction is a `\\dfrac`, since people write nested fractions as large as the outer one,
    and `\\sum` takes its text size (`_HANDWRITTEN_SIZE`).
    """
    tokens = formula.split()
    out = list(tokens)
    frames = [_Frame("group", False)]
    for i, token in enumerate(tokens):
        after_script = i > 0 and tokens[i - 1] in ("_", "^")
        frame = frames[-1]
        if token == "{":
            frames.append(_Frame("group", frame.script or after_script))
        elif token == "}":
            while len(frames) > 1 and frames.pop().kind != "group":
                pass
        elif token == "[" and i > 0 and tokens[i - 1] == _SQRT:
            frames.append(_Frame("optional", True))
        elif token == "]" and frame.kind == "optional":
            frames.pop()
        elif token in _HANDWRITTEN_SIZE and not (frame.script or after_script):
            out[i] = _HANDWRITTEN_SIZE[token]
        elif token in _OPENERS:
            frame.openers.append(i)
        elif token in _CLOSERS and frame.openers:
            opening = frame.openers.pop()
            out[opening], out[i] = _OPENERS[tokens[opening]], _CLOSERS[token]
        elif token == "|" and frame.bars:
            out[frame.bars.pop()], out[i] = r"\left|", r"\right|"
        elif token == "|":
            frame.bars.append(i)
    return " ".join(out)


def expected_classes(label: str) -> Counter[str]:
    """The CROHME symbols a handwritten `label` (normalized) consists of, with their counts."""
    tokens = from_normalized(label.split())
    counts: Counter[str] = Counter()
    depth, optional = 0, []
    for i, token in enumerate(tokens):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if token == "[" and i > 0 and tokens[i - 1] == _SQRT:
            optional.append(depth)
        elif token == "]" and optional and optional[-1] == depth:
            optional.pop()
        elif token not in _NOT_DRAWN:
            counts[_SYMBOL_OF.get(token, token)] += 1
    return counts


def _as_dots(counts: Counter[str]) -> Counter[str]:
    """The counts with each ellipsis counted as its three dots."""
    dots = Counter({dot: 3 * counts[ellipsis] for dot, ellipsis in _DOTS.items()})
    return Counter({k: n for k, n in counts.items() if k not in _DOTS.values()}) + dots


def coverage_problem(label: str, boxes: Sequence[GlyphBox]) -> str | None:
    """Why the boxes are not exactly the label's CROHME symbols, or None when they are.

    An ellipsis is compared as its three dots: TeX sets `. . .` and `\\ldots` alike where
    there is no thin space between the dots (in scripts), and both are three dots by hand.
    """
    have = _as_dots(Counter(box.label for box in boxes))
    want = _as_dots(expected_classes(label))
    if have == want:
        return None
    missing = " ".join(sorted((want - have).elements()))
    extra = " ".join(sorted((have - want).elements()))
    return f"symbols missing from the layout: [{missing}], not in the label: [{extra}]"


@dataclass(frozen=True)
class _Piece:
    label: str | None
    role: str
    mark: Mark


def _classify(mark: Mark) -> _Piece:
    """What one DVI mark is: its class and the role it plays in merging."""
    if mark.is_rule:
        return _Piece("-", "rule", mark)
    match = _FAMILY.match(mark.font)
    family = match.group(1) if match else ""
    code = mark.char
    if (family, code) == _NOT_SLASH:
        return _Piece(None, "not", mark)
    if family == "cmr" and code in _CMR:
        return _Piece(_CMR[code], "upright" if code in _LETTERS else "glyph", mark)
    if family == "cmmi" and code in _CMMI:
        return _Piece(_CMMI[code], "glyph", mark)
    if family == "cmsy" and code in _CMSY:
        return _Piece(_CMSY[code], "glyph", mark)
    if family == "cmex" and code in _CMEX_PIECES:
        return _Piece(_CMEX_PIECES[code], "piece", mark)
    if family == "cmex" and code in _CMEX_SIZED:
        return _Piece(_CMEX_SIZED[code], "sized", mark)
    if family == "cmex" and code in _CMEX_OPERATORS:
        return _Piece(_CMEX_OPERATORS[code], "glyph", mark)
    raise LayoutError(f"no CROHME symbol for character {code} of font {mark.font}")


def _union(label: str, marks: Sequence[Mark], stretch: bool) -> GlyphBox:
    return GlyphBox(
        label,
        min(m.x0 for m in marks),
        min(m.y0 for m in marks),
        max(m.x1 for m in marks),
        max(m.y1 for m in marks),
        stretch,
    )


def _same_line(a: Mark, b: Mark) -> bool:
    return abs(a.y1 - b.y1) < 0.05 and abs(a.y0 - b.y0) < 0.05


def _word_end(pieces: Sequence[_Piece], start: int) -> int:
    """End of the run of touching upright letters starting at `start`."""
    end = start + 1
    while end < len(pieces) and pieces[end].role == "upright":
        before, after = pieces[end - 1].mark, pieces[end].mark
        if abs(after.x0 - before.x1) > _TOUCH_PT or after.y1 < before.y0 or after.y0 > before.y1:
            break
        end += 1
    return end


def _is_ellipsis(pieces: Sequence[_Piece], start: int) -> bool:
    """Three equally spaced dots of one kind on one line: an ellipsis, one CROHME symbol."""
    three = pieces[start : start + 3]
    if len(three) < 3 or any(p.label != three[0].label or p.role != "glyph" for p in three):
        return False
    a, b, c = (p.mark for p in three)
    gaps = (b.x0 - a.x1, c.x0 - b.x1)
    return (
        _same_line(a, b)
        and _same_line(b, c)
        and all(-0.01 <= g < _DOT_GAP_PT for g in gaps)
        and abs(gaps[0] - gaps[1]) < 0.1
    )


def glyph_boxes(marks: Sequence[Mark]) -> tuple[GlyphBox, ...]:
    """A typeset formula's marks (in DVI order) → its CROHME symbol boxes, with (0, 0) the
    top-left corner of all of them. Raises `LayoutError` for a glyph no class names."""
    pieces = [_classify(mark) for mark in marks]
    boxes: list[GlyphBox] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if piece.role == "piece":
            end = i + 1
            while (
                end < len(pieces)
                and pieces[end].role == "piece"
                and abs(pieces[end].mark.x0 - piece.mark.x0) < 0.01
                and pieces[end].mark.y0 <= pieces[end - 1].mark.y1 + _TOUCH_PT
            ):
                end += 1
            label = next((p.label for p in pieces[i:end] if p.label is not None), None)
            if label is None:
                raise LayoutError("a brace extension without the rest of its brace")
            boxes.append(_union(label, [p.mark for p in pieces[i:end]], True))
            i = end
        elif piece.role == "not":
            following = pieces[i + 1] if i + 1 < len(pieces) else None
            if following is None or following.label != "=":
                raise LayoutError("\\not over something other than =")
            boxes.append(_union(r"\neq", [piece.mark, following.mark], False))
            i += 2
        elif piece.role == "upright":
            end = _word_end(pieces, i)
            word = "".join(p.label or "" for p in pieces[i:end])
            if word in FUNCTIONS:
                boxes.append(_union(FUNCTIONS[word], [p.mark for p in pieces[i:end]], False))
            else:
                boxes.extend(_union(p.label or "", [p.mark], False) for p in pieces[i:end])
            i = end
        elif piece.label in _DOTS and _is_ellipsis(pieces, i):
            boxes.append(_union(_DOTS[piece.label], [p.mark for p in pieces[i : i + 3]], False))
            i += 3
        else:
            stretch = piece.role in ("rule", "sized")
            boxes.append(_union(piece.label or "", [piece.mark], stretch))
            i += 1
        last = boxes[-1]
        if last.label == _SQRT and i < len(pieces) and pieces[i].role == "rule":
            rule = pieces[i].mark
            boxes[-1] = GlyphBox(
                _SQRT, last.x0, min(last.y0, rule.y0), rule.x1, max(last.y1, rule.y1), True
            )
            i += 1
    if not boxes:
        return ()
    left, top = min(b.x0 for b in boxes), min(b.y0 for b in boxes)
    return tuple(
        GlyphBox(b.label, b.x0 - left, b.y0 - top, b.x1 - left, b.y1 - top, b.stretch)
        for b in boxes
    )


def batch_document(formulas: Sequence[str], tag: str) -> str:
    """One LaTeX document shipping formula `k` alone on a page that starts with `\\special{tag k}`.

    The log markers are the renderer's (`compile.parse_log`): begin and end with the group and
    conditional levels, and one `slot` line for the formula's one box.
    """
    style = get_style("paper")
    levels = "\\the\\currentgrouplevel\\space\\the\\currentiflevel"
    lines = [style.preamble, "\\newbox\\immglyphs", "\\begin{document}"]
    for k, formula in enumerate(formulas):
        lines.append(
            f"\\typeout{{{tag} begin {k} {levels}}}\\setbox\\immglyphs\\vbox{{{style.open}"
        )
        lines.append(formula)
        lines.append(
            f"{style.close}}}\\shipout\\vbox{{\\special{{{tag} {k}}}\\box\\immglyphs}}"
            f"\\typeout{{{tag} slot 1 0 0 0pt}}\\typeout{{{tag} end {k} {levels}}}"
        )
    lines.append("\\end{document}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Outcome:
    """One batch's verdicts: boxes, an error, or None (not judged: typeset again)."""

    verdicts: list[tuple[GlyphBox, ...] | str | None]
    suspect: int | None
    died: str | None


def _pages(path: Path, tag: str) -> tuple[dict[int, Page], str | None]:
    """The formula pages of a DVI file by index, and why there are none if it cannot be read."""
    if not path.is_file():
        return {}, "TeX wrote no DVI file"
    try:
        pages = read_dvi(path.read_bytes())
    except DviError as error:
        return {}, f"unreadable DVI: {error}"
    found = {}
    for page in pages:
        for special in page.specials:
            name, _, index = special.partition(" ")
            if name == tag and index.isdigit():
                found[int(index)] = page
    return found, None


def _run_batch(texts: Sequence[str], timeout: float) -> _Outcome:
    """Typeset one batch in a private directory that is removed afterwards."""
    tag = f"{MARKER}{secrets.token_hex(8)}"
    with work_dir("glyphs-") as tmp:
        work = Path(tmp)
        (work / "batch.tex").write_text(batch_document(texts, tag), encoding="utf-8")
        command = ["latex", "-interaction=nonstopmode", "-no-shell-escape", "batch.tex"]
        if shutil.which("stdbuf"):
            command = ["stdbuf", "-oL", *command]
        limit = timeout + SECONDS_PER_FORMULA * len(texts)
        run = run_bounded(command, work, limit, tex_environment())
        log = parse_log(
            run.stdout.decode("utf-8", errors="replace"), len(texts), tag, run.timed_out
        )
        pages, unreadable = ({}, None) if run.timed_out else _pages(work / "batch.dvi", tag)
    died = f"TeX did not finish within {limit:.1f} s" if run.timed_out else log.died
    verdicts: list[tuple[GlyphBox, ...] | str | None] = []
    for k, entry in enumerate(log.formulas):
        if entry.verdict == "error":
            verdicts.append(clean_reason(entry.reason or "TeX error"))
        elif entry.verdict in ("ok", "overfull") and k in pages:
            try:
                verdicts.append(glyph_boxes(pages[k].marks))
            except LayoutError as error:
                verdicts.append(str(error))
        else:
            verdicts.append(None)
    return _Outcome(verdicts, log.suspect, died or unreadable)


def _follow_ups(
    job: tuple[int, ...], retry: list[int], suspect: int | None
) -> list[tuple[int, ...]]:
    """The batches that judge what `job` could not: always smaller than `job`, so it ends."""
    jobs = [(suspect,)] if suspect is not None else []
    retry = [k for k in retry if k != suspect]
    if retry and suspect is None and len(retry) == len(job):
        half = len(retry) // 2
        jobs.append(tuple(retry[:half]))
        retry = retry[half:]
    if retry:
        jobs.append(tuple(retry))
    return jobs


def layout_formulas(
    formulas: Sequence[str],
    *,
    timeout: float = 10.0,
    batch_size: int = BATCH_SIZE,
    workers: int = 2,
) -> list[Layout]:
    """The CROHME symbol boxes of every formula (normalized tokens), one `Layout` per formula, in
    order. `timeout` bounds one formula's TeX run (a batch gets a little more per formula)."""
    if shutil.which("latex") is None:
        raise RenderError("glyph layout needs latex, not found on PATH")
    results: dict[int, Layout] = {}
    texts: dict[int, str] = {}
    for k, formula in enumerate(formulas):
        text = join_dimensions(typeset_form(formula))
        reason = precheck(text)
        if reason is None:
            texts[k] = text
        else:
            results[k] = Layout(k, (), reason)
    todo = list(texts)
    size = max(1, min(batch_size, -(-len(todo) // max(1, workers))))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        running: dict[Future[_Outcome], tuple[int, ...]] = {}

        def submit(job: tuple[int, ...]) -> None:
            running[pool.submit(_run_batch, [texts[k] for k in job], timeout)] = job

        for start in range(0, len(todo), size):
            submit(tuple(todo[start : start + size]))
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, outcome = running.pop(future), future.result()
                retry = []
                for k, verdict in zip(job, outcome.verdicts, strict=True):
                    if isinstance(verdict, tuple):
                        results[k] = Layout(k, verdict)
                    elif isinstance(verdict, str):
                        results[k] = Layout(k, (), verdict)
                    elif len(job) == 1:
                        reason = outcome.died or "TeX stopped before the formula was done"
                        results[k] = Layout(k, (), clean_reason(reason))
                    else:
                        retry.append(k)
                suspect = job[outcome.suspect] if outcome.suspect is not None else None
                for follow_up in _follow_ups(job, retry, suspect if suspect in retry else None):
                    submit(follow_up)
    return [results[k] for k in range(len(formulas))]
