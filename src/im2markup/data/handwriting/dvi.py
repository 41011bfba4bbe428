"""Where TeX put every glyph and rule: a reader of DVI pages and of TFM glyph metrics.

A DVI file says which character of which font is set at which position and where rules go,
but not how large a glyph is; the font's TFM file gives each character's width, height and
depth. Together they give every glyph's box in TeX points (y down), which is all synthetic
handwriting needs to know about a typeset formula. Only what `latex` writes for a formula is
read (no virtual fonts); a file cut short by a killed run gives the pages before the cut.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

_POINT_IN_1E7_M = 254000 / 72.27
"""One TeX point in the DVI unit of measure `num/den` refers to (10⁻⁷ m)."""
_FONT_NAME = re.compile(r"^[a-z][a-z0-9]{0,31}$")


class DviError(ValueError):
    """A DVI or TFM file that cannot be read, with the reason."""


@dataclass(frozen=True)
class Tfm:
    """Glyph metrics of one font, in units of its design size: `char → (width, height, depth)`."""

    metrics: dict[int, tuple[float, float, float]]


def parse_tfm(data: bytes) -> Tfm:
    """The width, height and depth of every character of a TFM file."""
    if len(data) < 24:
        raise DviError("TFM file shorter than its header")
    lf, lh, bc, ec, nw, nh, nd, *_ = struct.unpack(">12H", data[:24])
    if lf * 4 > len(data) or (ec < bc and ec != bc - 1) or ec > 255:
        raise DviError("TFM header does not match the file")
    info_at = 24 + 4 * lh
    widths_at = info_at + 4 * (ec - bc + 1)
    heights_at, depths_at = widths_at + 4 * nw, widths_at + 4 * (nw + nh)
    if depths_at + 4 * nd > len(data):
        raise DviError("TFM tables run past the end of the file")

    def fix_word(table: int, index: int) -> float:
        return struct.unpack_from(">i", data, table + 4 * index)[0] / 2**20

    metrics = {}
    for code in range(bc, ec + 1):
        width_index, height_depth = (
            data[info_at + 4 * (code - bc)],
            data[info_at + 4 * (code - bc) + 1],
        )
        if width_index == 0:
            continue
        height_index, depth_index = height_depth >> 4, height_depth & 15
        if width_index >= nw or height_index >= nh or depth_index >= nd:
            raise DviError(f"TFM character {code} points outside its tables")
        metrics[code] = (
            fix_word(widths_at, width_index),
            fix_word(heights_at, height_index),
            fix_word(depths_at, depth_index),
        )
    return Tfm(metrics)


@cache
def font_metrics(name: str) -> Tfm:
    """The TFM metrics of font `name`, found with `kpsewhich`."""
    if not _FONT_NAME.match(name):
        raise DviError(f"unexpected font name {name!r}")
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None:
        raise DviError("kpsewhich is not installed")
    found = subprocess.run(
        [kpsewhich, f"{name}.tfm"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    if not found:
        raise DviError(f"no TFM file for font {name}")
    with open(found, "rb") as stream:
        return parse_tfm(stream.read())


@dataclass(frozen=True)
class Mark:
    """A glyph (`font`, `char`) or a rule (`font` empty) on a page: its box in points, y down."""

    font: str
    char: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def is_rule(self) -> bool:
        return not self.font


@dataclass
class Page:
    """One shipped page: its `\\special`s and its marks in the order TeX wrote them."""

    specials: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


def read_dvi(data: bytes, metrics: Callable[[str], Tfm] = font_metrics) -> list[Page]:
    """Every complete page of a DVI file."""
    reader = _Reader(data, metrics)
    pages: list[Page] = []
    with contextlib.suppress(IndexError):  # cut short: the pages read so far are whole
        reader.run(pages)
    return pages


@dataclass
class _Font:
    name: str
    scale: int
    tfm: Tfm


class _Reader:
    def __init__(self, data: bytes, metrics: Callable[[str], Tfm]):
        self.data, self.metrics, self.at = data, metrics, 0
        self.fonts: dict[int, _Font] = {}
        self.to_points = 1 / 65536

    def take(self, size: int, signed: bool = False) -> int:
        chunk = self.data[self.at : self.at + size]
        if len(chunk) < size:
            raise IndexError("DVI data ends early")
        self.at += size
        return int.from_bytes(chunk, "big", signed=signed)

    def run(self, pages: list[Page]) -> None:
        if self.take(1) != 247:
            raise DviError("not a DVI file")
        self.take(1)
        num, den, mag = self.take(4), self.take(4), self.take(4)
        if num <= 0 or den <= 0 or mag <= 0:
            raise DviError("DVI preamble has a non-positive unit")
        self.to_points = num / den * mag / 1000 / _POINT_IN_1E7_M
        comment = self.take(1)
        self.at += comment
        while True:
            op = self.take(1)
            if op == 139:
                self.at += 44
                pages.append(self.page())
            elif 243 <= op <= 246:
                self.define_font(op - 242)
            elif op == 248:
                return
            elif op != 138:
                raise DviError(f"DVI opcode {op} between pages")

    def define_font(self, size: int) -> None:
        number = self.take(size, signed=size == 4)
        self.take(4)
        scale = self.take(4, signed=True)
        self.take(4)
        area, length = self.take(1), self.take(1)
        name = self.data[self.at + area : self.at + area + length].decode("ascii", "replace")
        self.at += area + length
        if number not in self.fonts:
            self.fonts[number] = _Font(name, scale, self.metrics(name))

    def page(self) -> Page:
        page = Page()
        h = v = w = x = y = z = 0
        stack: list[tuple[int, ...]] = []
        font: _Font | None = None
        while True:
            op = self.take(1)
            if op < 128 or 128 <= op <= 131 or 133 <= op <= 136:
                if op < 128:
                    char, advance = op, True
                else:
                    size = op - 127 if op <= 131 else op - 132
                    char, advance = self.take(size, signed=size == 4), op <= 131
                if font is None:
                    raise DviError("a character is set before any font is selected")
                h += self.set_char(page, font, char, h, v, advance)
            elif op in (132, 137):
                height, width = self.take(4, signed=True), self.take(4, signed=True)
                if height > 0 and width > 0:
                    page.marks.append(self.box("", 0, h, v - height, h + width, v))
                h += width if op == 132 else 0
            elif op == 140:
                return page
            elif op == 141:
                stack.append((h, v, w, x, y, z))
            elif op == 142:
                if not stack:
                    raise DviError("DVI pop without push")
                h, v, w, x, y, z = stack.pop()
            elif 143 <= op <= 146:
                h += self.take(op - 142, signed=True)
            elif 147 <= op <= 151:
                w = self.take(op - 147, signed=True) if op > 147 else w
                h += w
            elif 152 <= op <= 156:
                x = self.take(op - 152, signed=True) if op > 152 else x
                h += x
            elif 157 <= op <= 160:
                v += self.take(op - 156, signed=True)
            elif 161 <= op <= 165:
                y = self.take(op - 161, signed=True) if op > 161 else y
                v += y
            elif 166 <= op <= 170:
                z = self.take(op - 166, signed=True) if op > 166 else z
                v += z
            elif 171 <= op <= 238:
                number = op - 171 if op <= 234 else self.take(op - 234, signed=op == 238)
                if number not in self.fonts:
                    raise DviError(f"DVI selects undefined font {number}")
                font = self.fonts[number]
            elif 239 <= op <= 242:
                length = self.take(op - 238)
                page.specials.append(self.data[self.at : self.at + length].decode("latin-1"))
                self.at += length
            elif 243 <= op <= 246:
                self.define_font(op - 242)
            elif op != 138:
                raise DviError(f"DVI opcode {op} inside a page")

    def set_char(self, page: Page, font: _Font, char: int, h: int, v: int, advance: bool) -> int:
        """Record the glyph's box; the DVI units `h` moves by (0 for put)."""
        try:
            width, height, depth = font.tfm.metrics[char]
        except KeyError:
            raise DviError(f"font {font.name} has no character {char}") from None
        size = font.scale
        page.marks.append(
            self.box(font.name, char, h, v - height * size, h + width * size, v + depth * size)
        )
        return round(width * size) if advance else 0

    def box(self, font: str, char: int, x0: float, y0: float, x1: float, y1: float) -> Mark:
        k = self.to_points
        return Mark(font, char, x0 * k, y0 * k, x1 * k, y1 * k)
