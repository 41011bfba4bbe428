"""`im2markup data merge`: one training set from several built datasets of one vocabulary.

Training reads one dataset (`data.name`), so mixing kinds of data (real inks beside synthetic
handwriting) means one folder that holds them all. `<out>/train` gets every training sample of
each source, in the sources' order, with their labels, sources, styles and hashes; validation,
`vocab.txt` and everything else beside the splits come from the first source, so a mixed run is
chosen on the same validation set as a run on the first source alone. The sources must share a
vocabulary (a token id must mean the same in all), and the manifest names each source's own.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from im2markup.data.corpus.manifest import MANIFEST_NAME, load_manifest, write_manifest
from im2markup.data.shards import ShardReader, ShardWriter

TRAIN = "train"


@dataclass(frozen=True)
class MergeOptions:
    """The `sources` (built dataset folders, the first one's validation kept) and `out`."""

    sources: tuple[Path, ...]
    out: Path
    progress: bool = True


def merge_datasets(options: MergeOptions) -> dict[str, object]:
    """Write the merged dataset to `options.out` (which must not exist); returns its manifest."""
    started = time.time()
    sources = [Path(source) for source in options.sources]
    if len(sources) < 2:
        raise ValueError("merging needs at least two datasets")
    for source in sources:
        if not (source / TRAIN).is_dir() or not (source / "vocab.txt").is_file():
            raise ValueError(f"{source} is not a built dataset (no {TRAIN}/ or vocab.txt)")
    vocab = (sources[0] / "vocab.txt").read_text(encoding="utf-8")
    for source in sources[1:]:
        if (source / "vocab.txt").read_text(encoding="utf-8") != vocab:
            raise ValueError(f"{source} has another vocabulary than {sources[0]}")
    out = Path(options.out)
    if out.exists():
        raise FileExistsError(f"{out} already exists")
    out.mkdir(parents=True)
    try:
        counts = _merge_train(sources, out / TRAIN, options.progress)
        _copy_beside_train(sources[0], out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    val = ShardReader(out / "val") if (out / "val").is_dir() else None
    splits: dict[str, object] = {
        TRAIN: {"samples": sum(counts.values()), "by_source_style": dict(counts)},
    }
    if val is not None:
        splits["val"] = {"samples": len(val), "from": str(sources[0])}
    return write_manifest(
        out,
        command=sys.argv,
        options=options,
        inputs={str(source): _manifest_hash(source) for source in sources},
        splits=splits,
        yields={},
        seconds=time.time() - started,
    )


def _merge_train(sources: list[Path], directory: Path, progress: bool) -> Counter[str]:
    """Copy every training sample of `sources` into one split; samples per source/style."""
    counts: Counter[str] = Counter()
    readers = [ShardReader(source / TRAIN) for source in sources]
    total = sum(len(reader) for reader in readers)
    with (
        ShardWriter(directory) as writer,
        tqdm(total=total, desc="merge", unit="image", disable=not progress) as bar,
    ):
        for reader in readers:
            for i in range(len(reader)):
                record = reader.record(i)
                writer.add(
                    reader.png(i),
                    record.label,
                    record.source,
                    record.style,
                    alt_label=record.alt_label,
                    ref=record.ref,
                    hash=record.hash,
                )
                counts[f"{record.source}/{record.style}"] += 1
                bar.update()
    return counts


def _copy_beside_train(source: Path, out: Path) -> None:
    """Everything of `source` but its training split and manifest (validation, vocabulary)."""
    for path in source.iterdir():
        if path.name in (TRAIN, MANIFEST_NAME) or path.name.endswith(".partial"):
            continue
        if path.is_dir():
            shutil.copytree(path, out / path.name)
        else:
            shutil.copy2(path, out / path.name)


def _manifest_hash(source: Path) -> str:
    """The source's manifest hash ("none" for a dataset built without a manifest)."""
    try:
        return str(load_manifest(source).get("manifest_hash"))
    except FileNotFoundError:
        return "none"
