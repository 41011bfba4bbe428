"""A training subset small enough to carry to another machine: one xz file.

A machine without TeX or the shared data (a rented GPU, say) can still train if it gets the
images themselves. Stored as PNG shards a pair costs about 2.8 kB; quantized to 16 gray levels
(white and black kept exactly, anti-aliased edges within 8/255, or 15/255 next to white and
black: less than the augmentation's noise) and xz-compressed as raw pixels it costs about
0.8 kB, so some 60,000 pairs fit in 50 MiB.

The subset keeps one image per formula (the build renders most formulas in two styles), so a
given size holds as many different formulas as it can. `unpack` writes an ordinary dataset
folder (`train/`, `val/`, `vocab.txt`, `manifest.json`) that `im2markup train` reads as it is.
"""

from __future__ import annotations

import io
import json
import lzma
import struct
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from im2markup.data.corpus.manifest import MANIFEST_NAME
from im2markup.data.shards import ShardReader, ShardWriter

LEVELS = 16
_STEP = 256 // LEVELS
_MAGIC = b"IM2MARKUP-COMPACT-1\n"
_FIELDS = ("label", "alt_label", "ref", "source", "style", "hash", "height", "width")
_PACKED_FILES = ("vocab.txt", MANIFEST_NAME)
_MAX_HEADER_BYTES = 1 << 30


@dataclass(frozen=True)
class PackReport:
    """What went into a compact file."""

    counts: dict[str, int]
    formulas: dict[str, int]
    bytes: int

    def as_dict(self) -> dict:
        return {"counts": self.counts, "formulas": self.formulas, "bytes": self.bytes}


def choose_subset(reader: ShardReader, count: int, seed: int) -> np.ndarray:
    """Indices of up to `count` samples, at most one per formula, in a seeded random order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(reader))
    _, first = np.unique(reader.hashes[order], return_index=True)
    distinct = order[np.sort(first)]
    return distinct[:count]


def quantize(image: np.ndarray) -> np.ndarray:
    """Gray levels 0..255 → codes 0..15."""
    return (image // _STEP).astype(np.uint8)


def dequantize(codes: np.ndarray) -> np.ndarray:
    """Codes 0..15 → the middle of each code's range; the end codes to black and white."""
    levels = codes.astype(np.uint16) * _STEP + _STEP // 2
    levels[codes == 0] = 0
    levels[codes == LEVELS - 1] = 255
    return levels.astype(np.uint8)


def pack(
    dataset: Path,
    out: Path,
    counts: dict[str, int],
    seed: int = 0,
    preset: int = 6,
) -> PackReport:
    """Write `counts[split]` samples of each split of `dataset` into the compact file `out`."""
    header: dict = {"splits": {}, "files": {}}
    for name in _PACKED_FILES:
        header["files"][name] = (dataset / name).read_text(encoding="utf-8")
    chosen = {}
    for split, count in counts.items():
        reader = ShardReader(dataset / split)
        indices = choose_subset(reader, count, seed)
        chosen[split] = (reader, indices)
        header["splits"][split] = [
            [getattr(record, f) for f in _FIELDS]
            for record in (reader.record(int(i)) for i in indices)
        ]
    tmp = out.with_name(out.name + ".partial")
    with lzma.open(tmp, "wb", preset=preset) as stream:
        blob = json.dumps(header).encode("utf-8")
        stream.write(_MAGIC + struct.pack("<Q", len(blob)) + blob)
        for reader, indices in chosen.values():
            for i in indices:
                stream.write(quantize(reader.image(int(i))).tobytes())
    tmp.replace(out)
    return PackReport(
        counts={s: len(i) for s, (_, i) in chosen.items()},
        formulas={s: len(set(r.hashes[i])) for s, (r, i) in chosen.items()},
        bytes=out.stat().st_size,
    )


def _read_header(stream: io.BufferedIOBase, path: Path) -> dict:
    """The header, checked: a bounded size, and only the dataset files `pack` writes."""
    if stream.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(f"{path} is not a compact im2markup subset")
    (size,) = struct.unpack("<Q", stream.read(8))
    if size > _MAX_HEADER_BYTES:
        raise ValueError(f"{path}: header of {size} bytes, more than {_MAX_HEADER_BYTES}")
    header = json.loads(stream.read(size).decode("utf-8"))
    unexpected = set(header.get("files", {})) - set(_PACKED_FILES)
    if unexpected:
        raise ValueError(f"{path}: unexpected files in the header: {sorted(unexpected)}")
    return header


def _png(args: tuple[bytes, int, int]) -> bytes:
    raw, height, width = args
    image = Image.fromarray(dequantize(np.frombuffer(raw, np.uint8).reshape(height, width)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _pixels(stream: io.BufferedIOBase, rows: list[list]) -> Iterator[tuple[bytes, int, int]]:
    for row in rows:
        height, width = int(row[6]), int(row[7])
        raw = stream.read(height * width)
        if len(raw) != height * width:
            raise ValueError("compact subset is truncated")
        yield raw, height, width


def unpack(path: Path, out: Path, workers: int = 1) -> dict[str, int]:
    """Write the dataset folder `out` from the compact file `path`; returns samples per split."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    with lzma.open(path, "rb") as stream, ProcessPoolExecutor(max(1, workers)) as pool:
        header = _read_header(stream, path)
        for name, text in header["files"].items():
            (out / name).write_text(text, encoding="utf-8")
        for split, rows in header["splits"].items():
            with ShardWriter(out / split, overwrite=True) as writer:
                pngs = pool.map(_png, _pixels(stream, rows), chunksize=256)
                for row, png in zip(rows, pngs, strict=True):
                    label, alt_label, ref, source, style, key = row[:6]
                    writer.add(png, label, source, style, alt_label=alt_label, ref=ref, hash=key)
            written[split] = len(rows)
    return written
