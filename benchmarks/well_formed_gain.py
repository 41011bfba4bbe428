"""What taking the first well-formed n-best entry adds over the beam's top hypothesis.

`im2markup evaluate --model … --split …` takes, for each image, the most likely entry of the
beam that passes the renderer's checks (balanced braces, `\\begin`/`\\end` and
`\\left`/`\\right` pairs; `im2markup.model.well_formed`) and keeps the top entry it replaced
as `beam_top` in `predictions.jsonl`. This script scores both versions of that file with the
evaluation's metrics, so the gain is measured on the same decoding run.

    .venv/bin/python benchmarks/well_formed_gain.py EVAL_DIR/test --split test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from im2markup.evaluation.predictions import load_predictions
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.split_decoding import PREDICTIONS
from im2markup.evaluation.splits import load_split

KEYS = ("bleu", "edit_distance", "image_edit_distance", "image_match", "image_match_nows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="an evaluation folder with predictions.jsonl")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()

    split = load_split(args.split)
    path = args.folder / PREDICTIONS
    chosen = load_predictions(path, split.names).tokens
    index = {name: k for k, name in enumerate(split.names)}
    top = list(chosen)
    replaced = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "beam_top" in entry and entry["image"] in index:
            top[index[entry["image"]]] = entry["beam_top"].split()
            replaced += 1
    report: dict = {"split": split.name, "n": len(split), "replaced": replaced}
    for name, predictions in (("beam top", top), ("first well-formed", chosen)):
        metrics, _ = score_predictions(split, predictions, render=RenderOptions(progress=False))
        report[name] = {key: round(metrics[key], 2) for key in KEYS}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
