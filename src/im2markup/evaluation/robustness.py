"""`im2markup evaluate --suite robustness`: the paper's metrics on test images as users send them.

Each test image (the clean render the model was evaluated on) is transformed as a user's picture
would be (`transforms.TRANSFORMS`), or its formula is typeset again at a screen's resolution
with thin strokes (`TYPESET`) or by KaTeX or MathJax in a browser, as a screenshot of a web
page shows it (`WEB`); the images are read through the same user-image path as
`im2markup predict`, decoded and scored with the same metrics as a normal evaluation, one row
per condition. Every condition gets its own result folder and report; for the untransformed
images the report also shows the attention of the first wrongly read items.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from tqdm import tqdm

from im2markup.data.render.web.style import WebStyle
from im2markup.evaluation.report import FILES_DIR, metrics_table, write_results
from im2markup.evaluation.scoring import RenderOptions, render_images, score_predictions
from im2markup.evaluation.splits import Split, load_split
from im2markup.evaluation.transforms import HANDWRITING_TRANSFORMS, TRANSFORMS
from im2markup.paths import cache_dir

if TYPE_CHECKING:
    from im2markup.serving.predictor import Predictor

SEED = 1234
ATTENTION_ITEMS = 50
# Conditions made by typesetting each gold formula again, in the split's style, with the thin
# anti-aliased strokes of a zoomed PDF or a screenshot of typeset math rather than the bold
# strokes of the training renders: dots per inch, where 100 is the model's scale.
TYPESET: dict[str, int] = {
    "typeset ×1.2 thin": 120,
    "typeset ×1.5 thin": 150,
    "typeset ×3 thin": 300,
}
# Conditions made by typesetting each gold formula in headless Chromium, as a screenshot of a
# web page shows it: the engine, the browser's zoom, light or dark theme. The dark screenshots
# go to the reader as they are (it inverts a dark background itself).
WEB: dict[str, WebStyle] = {
    "KaTeX 100%": WebStyle("katex", 1.0),
    "KaTeX 150% dark": WebStyle("katex", 1.5, dark=True),
    "MathJax 125%": WebStyle("mathjax", 1.25),
    "MathJax 200% dark": WebStyle("mathjax", 2.0, dark=True),
}


def run_suite(
    model_dir: Path,
    out_dir: Path | None = None,
    *,
    limit: int | None = None,
    render: RenderOptions | None = None,
    split: Split | None = None,
    transforms: Sequence[str] | None = None,
    beam_size: int | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> tuple[str, Path]:
    """Run the transforms (all, or those named) over the test split (or `split`); returns the
    table and the output folder. A CROHME split is decoded with CROHME's symbols only."""
    from im2markup.serving.predictor import load_model

    render = render or RenderOptions()
    split = (split or load_split("test")).head(limit)
    crohme = split.crohme_golds is not None
    # Handwriting is not typeset, and only handwriting is photographed on paper.
    known = [*TRANSFORMS, *HANDWRITING_TRANSFORMS] if crohme else [*TRANSFORMS, *TYPESET, *WEB]
    unknown = sorted(set(transforms or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown transforms {unknown}; known: {', '.join(known)}")
    if not crohme and set(transforms or WEB) & set(WEB):
        _require_browser()
    predictor = load_model(
        model_dir, device, threads=threads, beam_size=beam_size, handwritten=crohme
    )
    out_dir = out_dir or cache_dir() / "evaluations" / f"robustness-{Path(model_dir).name}"
    inputs = clean_inputs(split, render)
    rows: list[tuple[str, dict]] = []
    for name in known:
        if transforms is not None and name not in transforms:
            continue
        images = condition_images(name, inputs, split, render)
        predictions, problems = read_images(predictor, images, split.names, render.progress, name)
        folder = out_dir / _folder_name(name)
        metrics, items = score_predictions(
            split, predictions, render=render, files_dir=folder / FILES_DIR
        )
        if name == "original":
            _add_attention(predictor, images, items, folder / FILES_DIR)
        metrics["transform"] = name
        metrics["predictions"] = f"{model_dir} on images transformed by {name}"
        write_results(folder, metrics, items, problems)
        rows.append((name, metrics))
    table = metrics_table(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = f"# Robustness of {model_dir} on {len(split)} `{split.name}` items\n\n"
    (out_dir / "robustness.md").write_text(header + table + "\n", encoding="utf-8")
    (out_dir / "robustness.json").write_text(
        json.dumps({name: metrics for name, metrics in rows}, indent=2) + "\n", encoding="utf-8"
    )
    return table, out_dir


def _require_browser() -> None:
    """Fail before any row is decoded when the web conditions cannot be typeset."""
    from im2markup.data.render.web import AssetsMissing, ensure_assets

    if shutil.which("chromium") is None:
        raise ValueError(
            "the KaTeX and MathJax conditions need Debian's chromium; install it or name "
            "other --conditions"
        )
    try:
        ensure_assets()
    except AssetsMissing as err:
        raise ValueError(f"the KaTeX and MathJax conditions cannot run: {err}") from err


def clean_inputs(split: Split, render: RenderOptions) -> list[Image.Image | None]:
    """The split's input images; items without one get their gold's render in the split's style."""
    images = [split.input_image(k) for k in range(len(split))]
    missing = [k for k, image in enumerate(images) if image is None]
    if missing:
        style = render.style or split.style
        renders = render_images([split.golds[k] for k in missing], style, render.workers)
        for k, image in zip(missing, renders, strict=True):
            images[k] = image
    return images


def condition_images(
    name: str, inputs: list[Image.Image | None], split: Split, render: RenderOptions
) -> list[Image.Image | None]:
    """The images of one condition: a transform of the clean `inputs` (seeded per item) or the
    golds typeset again (`TYPESET`, `WEB`); None where an item has no image."""
    if name in WEB:
        from im2markup.data.render.web import render_web

        return [result.image for result in render_web(split.golds, WEB[name])]
    if name in TYPESET:
        from im2markup.data.formula_images import render_formulas

        results = render_formulas(
            split.golds,
            style=render.style or split.style,
            processed=False,
            composited=True,
            dpi=TYPESET[name],
            workers=render.workers,
            cache_dir=cache_dir() / "renders",
        )
        return [result.image for result in results]
    every = TRANSFORMS | HANDWRITING_TRANSFORMS
    number = list(every).index(name)
    transform = every[name]
    return [
        None if image is None else transform(image, np.random.default_rng([SEED, number, k]))
        for k, image in enumerate(inputs)
    ]


def read_images(
    predictor: Predictor,
    images: Sequence[Image.Image | None],
    names: Sequence[str],
    progress: bool = False,
    label: str = "",
) -> tuple[list[list[str] | None], list[str]]:
    """Predicted tokens per image (None where it had no image or could not be read)."""
    present = [k for k, image in enumerate(images) if image is not None]
    tokens: list[list[str] | None] = [None] * len(images)
    problems = [f"{names[k]}: no input image" for k, image in enumerate(images) if image is None]
    results = tqdm(
        predictor.iter_predict([images[k] for k in present]),
        total=len(present),
        desc=label,
        disable=not progress,
    )
    for k, result in zip(present, results, strict=True):
        if result.ok:
            tokens[k] = result.tokens.split()
        else:
            problems.append(f"{names[k]}: {result.error}")
    return tokens, problems


def _add_attention(
    predictor: Predictor, images: Sequence[Image.Image | None], items: list[dict], files_dir: Path
) -> None:
    """Attention strips of the first wrongly read items, shown by their report rows."""
    from im2markup.data.images.user_images import ImageInputError
    from im2markup.evaluation.visualize import explain, write_visualization

    wrong = [item for item in items if item.get("image_match") is False and item["pred"]]
    for item in wrong[:ATTENTION_ITEMS]:
        image = images[item["index"]]
        try:
            pixels = predictor.model_input(image)
        except ImageInputError:
            continue
        explanation = explain(
            predictor.model,
            predictor.vocab,
            pixels,
            predictor.beam_size,
            predictor.allowed_tokens,
            predictor.max_len,
        )
        strip, _ = write_visualization(
            Image.fromarray(pixels), explanation, files_dir, str(item["index"])
        )
        item.setdefault("files", {})["attention"] = strip.name


def _folder_name(transform: str) -> str:
    """An ASCII folder name for a transform (`blur σ1` → `blur-sigma1`)."""
    text = transform.replace("×", "x").replace("σ", "sigma")
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in text).strip("-")
