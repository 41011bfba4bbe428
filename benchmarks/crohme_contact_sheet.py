"""Contact sheet: CROHME 2014 test bitmaps beside synthetic handwriting of the same captions.

For visual comparison only (no model sees these renders): each row shows one test expression
as its bitmap (inverted to dark ink on white) and as `render_handwritten` draws its caption with
two seeds, all at the bitmaps' raw scale, with the caption underneath.

    .venv/bin/python benchmarks/crohme_contact_sheet.py --out docs/img/crohme_contact_sheet.png
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from im2markup.data.handwriting.crohme import to_normalized
from im2markup.data.handwriting.crohme_reader import TEST_CAPTIONS, TEST_IMAGES, read_captions
from im2markup.data.handwriting.render import render_handwritten
from im2markup.paths import shared_data_dir

CELL_WIDTH = 420
GAP = 12
HEADERS = ("CROHME 2014 test bitmap (inverted)", "synthetic, seed 0", "synthetic, seed 1")


def pick_expressions(rows: int) -> list[tuple[str, list[str]]]:
    """`rows` test captions spread over the file, skipping very long ones (they would shrink)."""
    captions = read_captions(shared_data_dir() / TEST_CAPTIONS)
    short = [c for c in captions if 5 <= len(c[1]) <= 30]
    step = len(short) // rows
    return [short[i * step] for i in range(rows)]


def test_bitmaps(ids: set[str]) -> dict[str, Image.Image]:
    """The inverted test bitmaps of `ids`, at their own scale."""
    found = {}
    with tarfile.open(shared_data_dir() / TEST_IMAGES, mode="r:gz") as archive:
        for member in archive:
            sample_id = Path(member.name).name.removesuffix("_0.bmp")
            if member.isfile() and sample_id in ids:
                handle = archive.extractfile(member)
                assert handle is not None
                with Image.open(io.BytesIO(handle.read())) as bitmap:
                    found[sample_id] = ImageOps.invert(bitmap.convert("L"))
    return found


def fit(image: Image.Image) -> Image.Image:
    """Shrink to the cell width if wider (never enlarged, so scales stay comparable)."""
    if image.width <= CELL_WIDTH:
        return image
    height = round(image.height * CELL_WIDTH / image.width)
    return image.resize((CELL_WIDTH, height), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/crohme_contact_sheet.png"))
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args(argv)

    chosen = pick_expressions(args.rows)
    bitmaps = test_bitmaps({sample_id for sample_id, _ in chosen})
    formulas = [" ".join(to_normalized(tokens)) for _, tokens in chosen]
    renders = [render_handwritten(formulas, processed=False, seed=seed) for seed in (0, 1)]

    font = ImageFont.load_default(size=15)
    rows = []
    for k, (sample_id, tokens) in enumerate(chosen):
        cells = [bitmaps[sample_id], *(run[k].image for run in renders)]
        cells = [fit(cell) for cell in cells if cell is not None]
        rows.append((cells, f"{sample_id}:  {' '.join(tokens)}"))
    header_h, caption_h = 28, 24
    height = header_h + sum(max(c.height for c in cells) + caption_h + GAP for cells, _ in rows)
    width = len(HEADERS) * (CELL_WIDTH + GAP) + GAP
    sheet = Image.new("L", (width, height), 200)
    draw = ImageDraw.Draw(sheet)
    for col, header in enumerate(HEADERS):
        draw.text((GAP + col * (CELL_WIDTH + GAP), 6), header, fill=0, font=font)
    y = header_h
    for cells, caption in rows:
        for col, cell in enumerate(cells):
            sheet.paste(cell, (GAP + col * (CELL_WIDTH + GAP), y))
        y += max(c.height for c in cells)
        draw.text((GAP, y + 3), caption, fill=0, font=font)
        y += caption_h + GAP
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}×{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
