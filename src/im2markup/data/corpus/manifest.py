"""The build manifest: what went into a dataset, what came out, and one hash naming it.

`manifest_hash` covers the input digests, the options that shape the data and the output
digests — not where things were written, the time or the command line — so two builds with the
same hash hold the same samples; training runs log it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from im2markup.data.corpus.cleaning import SourceYield, yields_table

MANIFEST_NAME = "manifest.json"
VAL_INDICES_NAME = "val-indices.txt"
"""The validation lines a dataset held out (one per line): its `val` split, kept from training."""
LOCATION_OPTIONS = frozenset({"name", "shared", "out", "render_cache", "progress", "workers"})
"""Options that say where or how fast, not what: left out of the hash."""
FORMAT_VERSION = 1


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_digest(directory: Path) -> str:
    """SHA-256 over the names and digests of a directory's files (sorted, recursive)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory).as_posix()}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_manifest(
    out: Path,
    *,
    command: Sequence[str],
    options: Any,
    inputs: dict[str, str],
    splits: dict[str, object],
    yields: dict[str, SourceYield],
    extra: dict[str, object] | None = None,
    seconds: float,
) -> dict[str, object]:
    """Write `out/manifest.json` (atomically) and return it."""
    outputs: dict[str, str] = {}
    packed = 0
    for path in sorted(out.iterdir()):
        if path.name == MANIFEST_NAME or path.name.endswith(".partial"):
            continue
        outputs[path.name] = directory_digest(path) if path.is_dir() else file_digest(path)
        if path.is_dir():
            packed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    settings = _jsonable(options)
    shaping = {k: v for k, v in settings.items() if k not in LOCATION_OPTIONS}
    identity = json.dumps(
        {"inputs": inputs, "options": shaping, "outputs": outputs}, sort_keys=True
    )
    manifest = {
        "format_version": FORMAT_VERSION,
        "manifest_hash": hashlib.sha256(identity.encode()).hexdigest()[:16],
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(command),
        "seconds": round(seconds, 1),
        "packed_bytes": packed,
        "options": settings,
        "splits": splits,
        "yields": yields_table(yields),
        **(extra or {}),
        "inputs": inputs,
        "outputs": outputs,
    }
    partial = out / (MANIFEST_NAME + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, out / MANIFEST_NAME)
    return manifest


def load_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a built dataset."""
    return json.loads((Path(directory) / MANIFEST_NAME).read_text(encoding="utf-8"))


def read_val_indices(directory: Path) -> list[int]:
    """The validation lines a built dataset held out, in order."""
    return [int(k) for k in (Path(directory) / VAL_INDICES_NAME).read_text().split()]
