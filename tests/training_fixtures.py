"""A tiny real dataset for the training tests: shared validation images packed into shards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from im2markup.data.vocab import Vocab
from shard_fixtures import first_val_samples, pack

DATASET = "tiny"


def make_dataset(root: Path, im2latex_dir: Path, n_train: int = 48, n_val: int = 16) -> Path:
    """`<root>/tiny/{train,val,vocab.txt}` from the first shared validation images."""
    samples = first_val_samples(im2latex_dir, n_train + n_val)
    dataset = root / DATASET
    dataset.mkdir(parents=True)
    pack(samples[:n_train], dataset / "train")
    pack(samples[n_train:], dataset / "val")
    Vocab.build([label for _, label, _ in samples[:n_train]], min_count=1).save(
        dataset / "vocab.txt"
    )
    return root


def data_overrides(root: Path) -> list[str]:
    return [f'data.data_dir="{root}"', f"data.name={DATASET}"]


def cli(args: list[str], runs: Path, **kwargs) -> subprocess.Popen:
    """`im2markup ARGS` in a child process writing runs under `runs`."""
    env = {**os.environ, "IM2MARKUP_RUNS": str(runs)}
    return subprocess.Popen(
        [sys.executable, "-m", "im2markup.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )
