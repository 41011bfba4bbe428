"""The handwriting fonts installed on this machine, and which characters each one can write.

Only fonts whose glyphs look like pen strokes are useful, and not every such font is usable for
every character: some have small capitals in place of lower-case letters (a lower-case `x` that
looks like `X` would teach the model the wrong thing) and one draws its capitals as hollow
outlines (two parallel strokes once thinned). The catalogue below records, per font file, which
roles it may take; fontconfig says where the file is and which characters it has.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Operators written in the handwriting font when it has them, with their TeX math class
# (0 ordinary, 2 binary, 3 relation, 4 opening, 5 closing, 6 punctuation). The minus sign stays
# Latin Modern's: the fonts' hyphens are much shorter than a handwritten minus.
OPERATORS: dict[str, int] = {
    "+": 2,
    "=": 3,
    "<": 3,
    ">": 3,
    "(": 4,
    "[": 4,
    ")": 5,
    "]": 5,
    "!": 5,
    "|": 0,
    "/": 0,
    ".": 0,
    ",": 6,
}

_BOTH = ("lower", "upper")
# File name → roles: "lower" writes a–z; "upper" writes capitals, digits and operators.
CATALOGUE: dict[str, tuple[str, ...]] = {
    "Breip.ttf": _BOTH,
    "dkg.ttf": _BOTH,
    # The italic and bold cuts' lower-case letters reach into their neighbours at math spacing.
    "dkgIt.ttf": ("upper",),
    "dkgBd.ttf": ("upper",),
    "dkgBI.ttf": ("upper",),
    "Rufscript010.ttf": _BOTH,
    "femkeklaver.ttf": ("lower",),  # capitals and digits are hollow outlines
    "Humor-Sans.ttf": ("upper",),  # lower case is small capitals
    "BecauseWeBuild-Regular.otf": ("upper",),
    "BecauseWeConnect-Regular.otf": ("upper",),
    "BecauseWeCreate-Regular.otf": ("upper",),
    "BecauseWeLearn-Regular.otf": ("upper",),
    "BecauseWeMentor-Regular.otf": ("upper",),
    "BecauseWeOrganize-Regular.otf": ("upper",),
}


@dataclass(frozen=True)
class HandwritingFont:
    """One installed font file and the characters it will be asked to write."""

    path: Path
    roles: tuple[str, ...]
    operators: str  # the keys of OPERATORS this font has a glyph for
    x_height: float  # height of "x" above the baseline, in ems
    cap_height: float  # height of "H", in ems

    @property
    def name(self) -> str:
        return self.path.stem


@functools.cache
def available_fonts() -> tuple[HandwritingFont, ...]:
    """Catalogued handwriting fonts that fontconfig finds, in catalogue order.

    Raises `RuntimeError` when fontconfig is missing or none of the fonts is installed, naming
    the Debian packages that provide them.
    """
    if shutil.which("fc-list") is None:
        raise RuntimeError("fc-list (fontconfig) is needed to find the handwriting fonts")
    listing = subprocess.run(
        ["fc-list", "--format", "%{file}\t%{charset}\n"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found: dict[str, HandwritingFont] = {}
    for line in listing.splitlines():
        file, _, charset = line.partition("\t")
        path = Path(file)
        if path.name in CATALOGUE and path.name not in found:
            chars = _parse_charset(charset)
            if all(ord(c) in chars for c in LOWER + UPPER):
                ops = "".join(c for c in OPERATORS if ord(c) in chars)
                x_height, cap_height = _glyph_heights(path, "xH")
                found[path.name] = HandwritingFont(
                    path, CATALOGUE[path.name], ops, x_height, cap_height
                )
    fonts = tuple(found[name] for name in CATALOGUE if name in found)
    if not any("lower" in f.roles for f in fonts):
        raise RuntimeError(
            "no handwriting font found; install fonts-dkg-handwriting, fonts-breip, fonts-bwht, "
            "fonts-femkeklaver, fonts-humor-sans or fonts-rufscript"
        )
    return fonts


def _glyph_heights(path: Path, chars: str) -> list[float]:
    """Ink height above the baseline of each character, in ems (FreeType through Pillow)."""
    size = 1000
    font = ImageFont.truetype(str(path), size)
    return [-font.getbbox(c, anchor="ls")[1] / size for c in chars]


def _parse_charset(charset: str) -> set[int]:
    """Code points of a fontconfig charset string such as `20-7e a0 b0-b3`."""
    points: set[int] = set()
    for part in charset.split():
        first, _, last = part.partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return points
