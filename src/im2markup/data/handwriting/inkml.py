"""Reading CROHME InkML: pen traces, writer, LaTeX truth and the symbol segmentation.

The CROHME 2014 training set (`crohme/crohme2014_train_inkml.tar.xz`) is 8,836 InkML files from
six collections. Their quirks, all handled here: point lists carry two to three channels
(`X Y`, `X Y T`, `X Y F`), coordinates are floats in some collections and integers in
others, one file is empty (`MfrDB3088`) and one is not valid UTF-8 (`MfrDB0104`, read as
Latin-1). The writer is an annotation in most collections; MathBrush and the `extension`
collection name it only in the file name.

The archive is read in memory, nothing is extracted; a member that cannot be read is left out
with a warning naming it and the reason, so one bad file never loses the rest.
"""

from __future__ import annotations

import logging
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from im2markup.paths import shared_data_dir

log = logging.getLogger(__name__)

TRAIN_INKML = "crohme/crohme2014_train_inkml.tar.xz"
MAX_MEMBER_BYTES = 4 * 1024 * 1024
"""An InkML file larger than this is not one handwritten expression and is not read."""

_NS = re.compile(r"^\{[^}]*\}")
_MEMBER = re.compile(r"^(?:.*/)?TrainINKML/(?P<collection>[^/]+)/(?P<id>[^/]+)\.inkml$")
_MATHBRUSH_WRITER = re.compile(r"^(?P<writer>\d+-\d+)-\d+$")
_EXTENSION_WRITER = re.compile(r"^(?P<writer>form\d+)-")


@dataclass(frozen=True)
class Symbol:
    """One segmented handwritten symbol: its label and the indices of its traces."""

    label: str
    traces: tuple[int, ...]


@dataclass(frozen=True)
class InkExpression:
    """One handwritten expression: pen traces (each an `(n, 2)` float array, y down)."""

    id: str
    collection: str
    writer: str
    truth: str
    traces: list[np.ndarray]
    symbols: list[Symbol] = field(default_factory=list)

    def bounds(self) -> tuple[float, float, float, float]:
        """`(x0, y0, x1, y1)` of all the ink."""
        points = np.concatenate(self.traces)
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


class InkmlError(ValueError):
    """An InkML document that holds no usable expression, with the reason."""


def _local(tag: str) -> str:
    return _NS.sub("", tag)


def _parse_points(text: str) -> np.ndarray:
    """`x y [more channels], x y ...` → `(n, 2)` float array of the first two channels."""
    points = []
    for chunk in text.replace("\n", " ").split(","):
        values = chunk.split()
        if len(values) < 2:
            continue
        try:
            points.append((float(values[0]), float(values[1])))
        except ValueError as error:
            raise InkmlError(f"trace point {chunk.strip()[:40]!r} is not numeric") from error
    if not points:
        raise InkmlError("a trace has no points")
    return np.asarray(points, dtype=np.float64)


def _writer(collection: str, sample_id: str, annotated: str | None) -> str:
    """A writer key unique across collections; where none is annotated, from the file name."""
    if annotated:
        return f"{collection}:{annotated.strip()}"
    for pattern in (_MATHBRUSH_WRITER, _EXTENSION_WRITER):
        match = pattern.match(sample_id)
        if match:
            return f"{collection}:{match['writer']}"
    return f"{collection}:{sample_id}"


def parse_inkml(data: bytes, sample_id: str, collection: str = "") -> InkExpression:
    """One InkML document → `InkExpression`. Raises `InkmlError` saying what is wrong."""
    if not data.strip():
        raise InkmlError("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise InkmlError(f"not well-formed XML: {error}") from error
    annotations: dict[str, str] = {}
    traces: dict[str, np.ndarray] = {}
    order: list[str] = []
    for child in root:
        tag = _local(child.tag)
        if tag == "annotation" and child.get("type") and child.get("type") not in annotations:
            annotations[child.get("type", "")] = (child.text or "").strip()
        elif tag == "trace":
            trace_id = child.get("id", str(len(order)))
            traces[trace_id] = _parse_points(child.text or "")
            order.append(trace_id)
    if not order:
        raise InkmlError("no traces")
    position = {trace_id: k for k, trace_id in enumerate(order)}
    symbols = []
    for group in root.iter():
        if _local(group.tag) != "traceGroup":
            continue
        label = next(
            (
                (a.text or "").strip()
                for a in group
                if _local(a.tag) == "annotation" and a.get("type") == "truth"
            ),
            "",
        )
        refs = [
            position[v.get("traceDataRef", "")]
            for v in group
            if _local(v.tag) == "traceView" and v.get("traceDataRef") in position
        ]
        if label and refs and label != "Segmentation":
            symbols.append(Symbol(label, tuple(refs)))
    return InkExpression(
        id=sample_id,
        collection=collection,
        writer=_writer(collection, sample_id, annotations.get("writer")),
        truth=annotations.get("truth", ""),
        traces=[traces[t] for t in order],
        symbols=symbols,
    )


def iter_archive(path: str | Path) -> Iterator[InkExpression]:
    """Every readable expression of an InkML archive (tar, any compression), in archive order."""
    with tarfile.open(path, mode="r:*") as archive:
        for member in archive:
            match = _MEMBER.match(member.name)
            if not match or not member.isfile():
                continue
            if member.size > MAX_MEMBER_BYTES:
                log.warning("InkML %s left out: %d bytes is too large", member.name, member.size)
                continue
            handle = archive.extractfile(member)
            if handle is None:
                log.warning("InkML %s left out: cannot be read", member.name)
                continue
            try:
                yield parse_inkml(handle.read(), match["id"], match["collection"])
            except InkmlError as error:
                log.warning("InkML %s left out: %s", member.name, error)


def load_crohme2014_train_ink(shared_dir: str | Path | None = None) -> list[InkExpression]:
    """The CROHME 2014 training inks, sorted by id (`shared_dir`: default the shared data)."""
    root = Path(shared_dir) if shared_dir is not None else shared_data_dir()
    return sorted(iter_archive(root / TRAIN_INKML), key=lambda e: e.id)
