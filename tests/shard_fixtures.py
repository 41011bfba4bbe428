"""Real samples for the shard and dataset tests: the first shared validation images."""

from __future__ import annotations

import tarfile
from pathlib import Path

from im2markup.data.shards import ShardWriter


def first_val_samples(im2latex_dir: Path, count: int) -> list[tuple[bytes, str, str]]:
    """(PNG bytes, nospace label, normalized label) of validation images `0.png` … `count-1`."""
    formulas = im2latex_dir / "formulas"
    nospace = (formulas / "val.formulas.nospace.txt").read_text(encoding="utf-8").splitlines()
    norm = (formulas / "val.formulas.norm.txt").read_text(encoding="utf-8").splitlines()
    found: dict[int, bytes] = {}
    with tarfile.open(im2latex_dir / "images_val.tar") as tar:
        for member in tar:
            stem = Path(member.name).stem
            if member.isfile() and stem.isdigit() and int(stem) < count:
                found[int(stem)] = tar.extractfile(member).read()
                if len(found) == count:
                    break
    return [(found[k], nospace[k], norm[k]) for k in range(count)]


def pack(samples: list[tuple[bytes, str, str]], directory: Path, **kwargs: int | bool) -> Path:
    with ShardWriter(directory, **kwargs) as writer:
        for k, (png, label, normalized) in enumerate(samples):
            writer.add(
                png,
                label,
                source="im2latex-val",
                style="shared",
                alt_label=normalized,
                ref=f"val:{k}",
            )
    return directory
