"""Packed image shards: one split is a directory of a few large files, not thousands of PNGs.

Layout of a split directory::

    shard-00000.bin, shard-00001.bin, ...   PNG files (8-bit grayscale) written back to back
    index.npz                               one row per sample, columns below
    meta.json                               format version, counts, shard names

`index.npz` is columnar and pickle-free so that opening a split of 300,000 samples takes
milliseconds and every DataLoader worker can share it: `shard`, `offset`, `length`, `height`,
`width`, `hash` (16 hex characters of the formula key), `source` / `style` (codes into the
`sources` / `styles` name lists), and the labels as one UTF-8 blob cut by `label_offsets`
(`alt_label_*` likewise, e.g. the normalized formula beside a space-stripped label, and `ref_*`,
where the sample comes from, e.g. `val:123` for line 123 of the validation formulas).

A split is written into `<dir>.partial` and renamed when complete, so an interrupted build never
leaves a directory that looks finished.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

FORMAT_VERSION = 1
INDEX_NAME = "index.npz"
META_NAME = "meta.json"
DEFAULT_SHARD_BYTES = 256 << 20
_NUMERIC = {
    "shard": np.uint16, "offset": np.uint64, "length": np.uint32, "height": np.int32,
    "width": np.int32, "source": np.uint16, "style": np.uint16,
}  # fmt: skip
_TEXT = ("label", "alt_label", "ref")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def formula_key(formula: str) -> str:
    """Whitespace-free form of a token string: two formulas are the same iff their keys are."""
    return "".join(formula.split())


def formula_hash(formula: str) -> str:
    """16 hex characters identifying a formula regardless of its spacing."""
    return hashlib.blake2b(formula_key(formula).encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Record:
    """Everything stored about one sample except its pixels."""

    index: int
    label: str
    alt_label: str
    ref: str
    source: str
    style: str
    hash: str
    height: int
    width: int


def encode_png(image: Image.Image | np.ndarray | bytes) -> tuple[bytes, int, int]:
    """PNG bytes of an 8-bit grayscale image and its (height, width).

    Grayscale PNG bytes are kept as they are; anything else is converted to mode `L`.
    """
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        if not data.startswith(_PNG_SIGNATURE):
            raise ValueError("image bytes are not a PNG file")
        with Image.open(io.BytesIO(data)) as probe:
            if probe.mode == "L":
                return data, probe.height, probe.width
            image = probe.convert("L")
    if isinstance(image, np.ndarray):
        if image.ndim != 2 or image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 H×W array, got {image.dtype} {image.shape}")
        image = Image.fromarray(image, mode="L")
    if image.mode != "L":
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), image.height, image.width


class _Strings:
    """Append-only list of strings kept as one UTF-8 blob plus offsets."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.offsets: list[int] = [0]

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        self.chunks.append(data)
        self.offsets.append(self.offsets[-1] + len(data))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        blob = np.frombuffer(b"".join(self.chunks), dtype=np.uint8)
        return blob, np.asarray(self.offsets, dtype=np.int64)


class ShardWriter:
    """Appends samples to a new split directory; `close()` publishes it.

    Used as a context manager, an exception discards the partial directory.
    """

    def __init__(
        self,
        directory: str | Path,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        overwrite: bool = False,
    ):
        self.directory = Path(directory)
        if self.directory.exists() and not overwrite:
            raise FileExistsError(f"{self.directory} already exists (pass overwrite=True)")
        self.partial = self.directory.with_name(self.directory.name + ".partial")
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True)
        self.shard_bytes = shard_bytes
        self.overwrite = overwrite
        self._columns: dict[str, list[int]] = {k: [] for k in _NUMERIC}
        self._hashes: list[str] = []
        self._texts = {k: _Strings() for k in _TEXT}
        self._sources: dict[str, int] = {}
        self._styles: dict[str, int] = {}
        self._shard_names: list[str] = []
        self._file: io.BufferedWriter | None = None
        self._position = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._hashes)

    def _target(self, size: int) -> io.BufferedWriter:
        if self._file is None or (self._position and self._position + size > self.shard_bytes):
            if self._file is not None:
                self._file.close()
            name = f"shard-{len(self._shard_names):05d}.bin"
            self._shard_names.append(name)
            self._file = open(self.partial / name, "wb")  # noqa: SIM115 - kept open across calls
            self._position = 0
        return self._file

    def add(
        self,
        image: Image.Image | np.ndarray | bytes,
        label: str,
        source: str,
        style: str,
        alt_label: str = "",
        ref: str = "",
        hash: str | None = None,
    ) -> int:
        """Store one sample and return its index in the split."""
        if self._closed:
            raise RuntimeError("writer is closed")
        data, height, width = encode_png(image)
        target = self._target(len(data))
        columns = self._columns
        columns["shard"].append(len(self._shard_names) - 1)
        columns["offset"].append(self._position)
        columns["length"].append(len(data))
        columns["height"].append(height)
        columns["width"].append(width)
        columns["source"].append(self._sources.setdefault(source, len(self._sources)))
        columns["style"].append(self._styles.setdefault(style, len(self._styles)))
        self._hashes.append(hash if hash is not None else formula_hash(label))
        for name, text in zip(_TEXT, (label, alt_label, ref), strict=True):
            self._texts[name].append(text)
        target.write(data)
        self._position += len(data)
        return len(self._hashes) - 1

    def close(self) -> Path:
        """Write the index and move the finished split into place."""
        if self._closed:
            return self.directory
        if self._file is not None:
            self._file.close()
        c = self._columns
        texts = {}
        for name, strings in self._texts.items():
            texts[f"{name}_data"], texts[f"{name}_offsets"] = strings.arrays()
        np.savez(
            self.partial / INDEX_NAME,
            **{k: np.asarray(c[k], dtype=dtype) for k, dtype in _NUMERIC.items()},
            hash=np.asarray(self._hashes, dtype="S16"),
            sources=np.asarray(list(self._sources), dtype=str),
            styles=np.asarray(list(self._styles), dtype=str),
            **texts,
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "count": len(self),
            "shards": self._shard_names,
            "shard_sizes": [(self.partial / n).stat().st_size for n in self._shard_names],
            "bytes": int(sum(c["length"])),
        }
        (self.partial / META_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.partial.rename(self.directory)
        self._closed = True
        return self.directory

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._file is not None:
            self._file.close()
        shutil.rmtree(self.partial, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class ShardReader:
    """Random access to a packed split; shard files are memory-mapped on first use.

    The maps are not pickled, so a reader can be handed to DataLoader worker processes, each of
    which maps the files itself.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        meta_path = self.directory / META_NAME
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.directory} is not a packed split (no {META_NAME})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{self.directory}: format version {meta.get('format_version')}, "
                f"expected {FORMAT_VERSION}"
            )
        self.shard_names: list[str] = list(meta["shards"])
        self._sizes: list[int] | None = meta.get("shard_sizes")
        with np.load(self.directory / INDEX_NAME, allow_pickle=False) as index:
            self._index = {name: index[name] for name in index.files}
        self.heights: np.ndarray = self._index["height"]
        self.widths: np.ndarray = self._index["width"]
        self.source_names: list[str] = [str(s) for s in self._index["sources"]]
        self.style_names: list[str] = [str(s) for s in self._index["styles"]]
        self._maps: list[np.memmap | None] = [None] * len(self.shard_names)

    def __len__(self) -> int:
        return len(self.heights)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = [None] * len(self.shard_names)
        return state

    def _check(self, i: int) -> int:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples in {self.directory}")
        return i % len(self)

    def _map(self, shard: int) -> np.memmap:
        mapped = self._maps[shard]
        if mapped is None:
            path = self.directory / self.shard_names[shard]
            mapped = np.memmap(path, dtype=np.uint8, mode="r")
            if self._sizes is not None and mapped.size != self._sizes[shard]:
                raise RuntimeError(f"{path} changed since its index was read (split rebuilt?)")
            self._maps[shard] = mapped
        return mapped

    def png(self, i: int) -> bytes:
        """The stored PNG file of sample `i`."""
        i = self._check(i)
        offset = int(self._index["offset"][i])
        length = int(self._index["length"][i])
        return self._map(int(self._index["shard"][i]))[offset : offset + length].tobytes()

    def image(self, i: int) -> np.ndarray:
        """Sample `i` decoded to a writable `uint8` H×W array (white = 255)."""
        with Image.open(io.BytesIO(self.png(i))) as image:
            return np.array(image.convert("L"), dtype=np.uint8)

    def _string(self, column: str, i: int) -> str:
        offsets = self._index[f"{column}_offsets"]
        start, end = int(offsets[i]), int(offsets[i + 1])
        return self._index[f"{column}_data"][start:end].tobytes().decode("utf-8")

    def label(self, i: int) -> str:
        return self._string("label", self._check(i))

    def labels(self, column: str = "label") -> list[str]:
        """All labels (or `alt_label`s, `ref`s), in index order."""
        blob = self._index[f"{column}_data"].tobytes()
        offsets = self._index[f"{column}_offsets"]
        return [blob[offsets[k] : offsets[k + 1]].decode("utf-8") for k in range(len(self))]

    def record(self, i: int) -> Record:
        i = self._check(i)
        return Record(
            index=i,
            label=self._string("label", i),
            alt_label=self._string("alt_label", i),
            ref=self._string("ref", i),
            source=self.source_names[int(self._index["source"][i])],
            style=self.style_names[int(self._index["style"][i])],
            hash=self._index["hash"][i].decode("ascii"),
            height=int(self.heights[i]),
            width=int(self.widths[i]),
        )

    @property
    def sources(self) -> np.ndarray:
        """Source code of every sample (names in `source_names`)."""
        return self._index["source"]

    @property
    def styles(self) -> np.ndarray:
        """Style code of every sample (names in `style_names`)."""
        return self._index["style"]

    @property
    def hashes(self) -> np.ndarray:
        return self._index["hash"]
