"""A small copy of the shared data for the glyph tests: every k-th real CROHME training ink, and
links to the real captions, test formulas and corpora (or edited copies of them).

The small InkML archive is an uncompressed tar under the real archive's name: the reader opens
any compression, and compressing it again would cost the tests seconds."""

from __future__ import annotations

import tarfile
from pathlib import Path

from im2markup.data.handwriting.inkml import TRAIN_INKML

LINKED = (
    "crohme/train_caption.txt",
    "crohme/test_caption.txt",
    "im2latex100k/formulas/test.formulas.norm.txt",
    "im2latex100k/formulas/test.formulas.nospace.txt",
    "im2latex100k/formulas/val.formulas.norm.txt",
    "im2latex100k/formulas/val.formulas.nospace.txt",
    "corpora/im2latex170k_test_norm.txt",
    "corpora/arxiv_multiline_a.txt",
    "corpora/arxiv_multiline_b.txt",
)


def small_shared(
    base: Path, shared: Path, every: int = 10, prepend: dict[str, list[str]] | None = None
) -> Path:
    """`base/shared` with every `every`-th InkML file of the real archive (all collections) and
    the real text files; `prepend` puts lines before a text file's own."""
    root = base / "shared"
    for name in LINKED:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if prepend and name in prepend:
            own = (shared / name).read_text(encoding="utf-8")
            target.write_text("\n".join(prepend[name]) + "\n" + own, encoding="utf-8")
        else:
            target.symlink_to(shared / name)
    with (
        tarfile.open(shared / TRAIN_INKML) as source,
        tarfile.open(root / TRAIN_INKML, "w") as small,
    ):
        for k, member in enumerate(m for m in source if m.isfile()):
            if k % every == 0:
                small.addfile(member, source.extractfile(member))
    return root
