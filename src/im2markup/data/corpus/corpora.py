"""Readers for the shared data folder (`/work/shared/data`, see its README).

Each training corpus is described by a `Corpus`: where its lines are, whether they are raw LaTeX
(to be cleaned and normalized) or already in the normalized token form, and how a line splits
into formulas. The IM2LATEX-100K test and validation formulas and images are read here too.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from im2markup.data.corpus.mining import split_top_level
from im2markup.paths import shared_data_dir

IM2LATEX = "im2latex100k"


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 text file without their line ends (blank lines kept: they hold places)."""
    return path.read_text(encoding="utf-8").splitlines()


@dataclass(frozen=True)
class Corpus:
    """One shared formula file used for training."""

    name: str
    files: tuple[str, ...]
    normalized: bool
    multiline: bool = False

    def formulas(self, root: Path | None = None) -> Iterator[str]:
        """The corpus's formulas, in file order (blank lines skipped)."""
        root = shared_data_dir() if root is None else root
        for name in self.files:
            for line in read_lines(root / name):
                if not line.strip():
                    continue
                if self.multiline:
                    yield from split_top_level(line)
                else:
                    yield line.strip()


CORPORA: tuple[Corpus, ...] = (
    Corpus("arxiv-hepth", ("corpora/arxiv_hepth_kddcup.txt",), normalized=False),
    Corpus("arxiv-extra", ("corpora/arxiv_equations_extra.txt",), normalized=False),
    Corpus("im2latex170k", ("corpora/im2latex170k_test_norm.txt",), normalized=True),
    Corpus(
        "arxiv-multiline",
        ("corpora/arxiv_multiline_a.txt", "corpora/arxiv_multiline_b.txt"),
        normalized=True,
        multiline=True,
    ),
    Corpus("wikipedia", ("corpora/wikipedia_math.txt",), normalized=False),
)
"""The training corpora, in the order in which duplicates are attributed."""


@dataclass(frozen=True)
class Im2latexSplit:
    """The IM2LATEX-100K test or validation split: line k of both files labels image `k.png`."""

    norm: list[str]
    nospace: list[str]
    images: Path

    def __len__(self) -> int:
        return len(self.norm)


def im2latex_split(name: str, root: Path | None = None) -> Im2latexSplit:
    """`name` is `test` or `val`."""
    if name not in ("test", "val"):
        raise ValueError(f"unknown IM2LATEX-100K split {name!r} (test or val)")
    base = (shared_data_dir() if root is None else root) / IM2LATEX
    norm = read_lines(base / "formulas" / f"{name}.formulas.norm.txt")
    nospace = read_lines(base / "formulas" / f"{name}.formulas.nospace.txt")
    if len(norm) != len(nospace):
        raise ValueError(f"{name}: {len(norm)} normalized but {len(nospace)} nospace formulas")
    return Im2latexSplit(norm, nospace, base / f"images_{name}.tar")


def tar_images(path: Path, wanted: set[int] | None = None) -> Iterator[tuple[int, bytes]]:
    """(k, PNG bytes) of the members `k.png` of an image tar, in archive order.

    Only regular files named by a number are read; with `wanted`, only those numbers.
    """
    with tarfile.open(path) as tar:
        for member in tar:
            stem = Path(member.name).stem
            if not member.isfile() or not stem.isdigit() or not member.name.endswith(".png"):
                continue
            if wanted is not None and int(stem) not in wanted:
                continue
            stream = tar.extractfile(member)
            if stream is not None:
                yield int(stem), stream.read()
