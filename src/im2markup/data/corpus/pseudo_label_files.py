"""The pseudo-label file, and what a dataset build takes from it.

A pseudo-label file is a TSV, one verified image per line:
`image<TAB>normalized formula<TAB>how`, where `image` names a member of a shared image tar
as `<tar stem>/<member>` (e.g. `images_train_unlabeled_0/4.png`) and `how` is `greedy` or
`beam-k` (the k-th hypothesis of the beam, counted from 1). Beside it, `<file>.done` lists
every image a pass handled (`image<TAB>how or why not`), so that the next pass can skip them.
`im2markup data build --extra`
recognizes such a file by its lines and takes two things from it:

* its formulas, as an already normalized source of the training pool (so they go through the
  same test-overlap removal and deduplication as every other source, and are rendered in
  the build's `pseudo_styles`, by default the shared style only, as the images they were
  verified against do not show spacing);
* its images, as `shared-image` training pairs labelled with the space-stripped form of their
  formula, like the shared validation images. Only images of the unlabeled training tars are
  taken, and none whose formula equals a test or held-out validation formula.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from im2markup.data.corpus.cleaning import Exclusions, FormulaList, nospace_form
from im2markup.data.corpus.corpora import IM2LATEX, read_lines, tar_images

UNLABELED_TARS = tuple(f"images_train_unlabeled_{i}.tar" for i in range(4))
MAX_LABEL_TOKENS = 150
_HOW = re.compile(r"greedy|beam-[1-9][0-9]*")
_UNLABELED_STEM = re.compile(r"images_train_unlabeled_[0-9]+")
SOURCE = "pseudo-label"


@dataclass(frozen=True)
class PseudoLabel:
    """A verified label of one image."""

    image: str
    formula: str
    how: str

    def line(self) -> str:
        return f"{self.image}\t{self.formula}\t{self.how}\n"


def parse_line(line: str) -> PseudoLabel | None:
    """The label a line holds, or None when the line is not in the pseudo-label form."""
    fields = line.rstrip("\n").split("\t")
    if len(fields) != 3 or "/" not in fields[0] or not fields[1].strip():
        return None
    if not _HOW.fullmatch(fields[2]):
        return None
    return PseudoLabel(*fields)


def read_pseudo_labels(path: Path) -> list[PseudoLabel]:
    """Every label of a pseudo-label file (first line per image); a bad line is an error."""
    labels, seen = [], set()
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        label = parse_line(line)
        if label is None:
            raise ValueError(f"{path}:{number}: not an `image<TAB>formula<TAB>how` line")
        if label.image not in seen:
            seen.add(label.image)
            labels.append(label)
    return labels


def done_images(out: Path) -> set[str]:
    """Images a previous pass handled: named in the output or in its `.done` file."""
    names = set()
    if out.is_file():
        for line in out.read_text(encoding="utf-8").splitlines():
            label = parse_line(line)
            if label is not None:
                names.add(label.image)
    done = done_path(out)
    if done.is_file():
        names.update(
            line.split("\t", 1)[0] for line in done.read_text(encoding="utf-8").splitlines()
        )
    return names


def done_path(out: Path) -> Path:
    """`<out>.done`: every image a pass handled, with how it was labelled or why not."""
    return out.with_name(out.name + ".done")


def open_for_append(path: Path) -> TextIO:
    """Append to `path`, first dropping a last line that a kill left without its line end."""
    if path.is_file():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8")


def is_pseudo_label_file(path: Path) -> bool:
    """Whether every non-blank line of `path` is a pseudo-label line (and there is one)."""
    lines = [line for line in read_lines(path) if line.strip()]
    return bool(lines) and all(parse_line(line) is not None for line in lines)


def split_extra(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """`--extra` files as (raw formula files, pseudo-label files)."""
    pseudo = [path for path in paths if is_pseudo_label_file(path)]
    return [path for path in paths if path not in pseudo], pseudo


def is_pseudo_label_source(source: str) -> bool:
    """Whether a training sample's source is a pseudo-label file (its formulas or its images)."""
    return source == SOURCE or source.startswith(f"{SOURCE}:")


def pseudo_label_source(path: Path) -> FormulaList:
    """The file's formulas as a normalized pool source (`ref` is the image)."""
    items = [(label.image, label.formula) for label in read_pseudo_labels(path)]
    return FormulaList(f"{SOURCE}:{path.name}", items, normalized=True)


@dataclass(frozen=True)
class LabelledImage:
    """A real image with its label for the training split, or why it is left out."""

    png: bytes
    label: str
    alt: str
    source: str
    ref: str
    dropped: str | None = None


def pseudo_label_images(
    paths: Sequence[Path],
    exclusions: Exclusions,
    root: Path,
    limit: int | None = None,
) -> Iterator[LabelledImage]:
    """The verified images of `paths` as training pairs (nospace label, normalized alt).

    Images outside the unlabeled training tars and formulas equal to an excluded one come back
    with `dropped` set, as do labels over the paper's 150 tokens; `limit` keeps the first
    labels of each file.
    """
    for path in paths:
        labels = read_pseudo_labels(path)[:limit]
        wanted: dict[str, dict[int, PseudoLabel]] = defaultdict(dict)
        for label in labels:
            stem, _, member = label.image.partition("/")
            number = member.removesuffix(".png")
            if not _UNLABELED_STEM.fullmatch(stem) or not number.isdigit():
                yield LabelledImage(b"", "", "", SOURCE, label.image, "not an unlabeled image")
                continue
            excluded = exclusions.match(label.formula)
            if excluded is not None:
                yield LabelledImage(b"", "", "", SOURCE, label.image, f"equals {excluded}")
                continue
            text = nospace_form(label.formula)
            if len(text.split()) > MAX_LABEL_TOKENS:
                reason = f"more than {MAX_LABEL_TOKENS} tokens"
                yield LabelledImage(b"", "", "", SOURCE, label.image, reason)
                continue
            wanted[stem][int(number)] = label
        for stem, members in sorted(wanted.items()):
            tar = root / IM2LATEX / f"{stem}.tar"
            found = set()
            for number, png in tar_images(tar, set(members)) if tar.is_file() else ():
                label = members[number]
                found.add(number)
                text = nospace_form(label.formula)
                yield LabelledImage(png, text, label.formula, SOURCE, label.image)
            for number in sorted(set(members) - found):
                yield LabelledImage(b"", "", "", SOURCE, members[number].image, "image not found")
