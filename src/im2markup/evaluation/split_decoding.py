"""Decoding a split's input images with a model, appending each batch's predictions as it comes.

`predictions.jsonl` gets one JSON object per item: `image`, `tokens` (normalized, space
separated), `latex`, `score`, `seconds` (the item's share of its batch's decoding time) and the
attention cells scored while decoding it (`steps`, `fine_cells`, `coarse_cells`,
`grid_cells`); where the beam's top hypothesis would not typeset and a well-formed n-best
entry was taken instead (`model.well_formed`), `beam_top` keeps the top one. An item without
a usable image gets `{"image", "tokens": "", "error"}`. It is a predictions file
`im2markup evaluate` reads, where such an item counts as missing.

`decoding.json` beside it holds the settings that decide the predictions. An evaluation started
again with the same settings skips the items already in the file, so a killed run loses at most
the batch it was decoding; other settings are refused rather than mixed in.

Batches are the dataset's: samples grouped by size bucket (`bucket_groups`), loaded and padded
by `FormulaDataset` and `collate`, exactly as training and validation read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from im2markup.data.dataset import FormulaDataset, SampleKey, collate
from im2markup.data.images.buckets import Bucket, bucket_groups
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import Vocab
from im2markup.evaluation.model_inputs import SplitInputs
from im2markup.inference.batches import Search, decode_batch
from im2markup.inference.loading import LoadedModel
from im2markup.latex.detokenizer import detokenize
from im2markup.model.attention_cost import AttentionCost
from im2markup.model.base import Hypothesis, ImageToMarkupModel
from im2markup.model.well_formed import first_well_formed

PREDICTIONS = "predictions.jsonl"
SETTINGS = "decoding.json"


@dataclass(frozen=True)
class DecodeSettings:
    """Everything the predictions depend on (batch size and threads only change the speed).

    `well_formed_choice` marks predictions that took the first well-formed n-best entry;
    folders written before that choice existed lack it and are not mixed with new ones.
    `int8` marks decoding with int8 weights (`model.quantize`).
    """

    model_sha256: str
    split: str
    inputs: str
    beam_size: int
    max_len: int | None
    crohme: bool
    well_formed_choice: bool = True
    int8: bool = False


# Settings added after folders were written without them, and what their absence means.
ABSENT_MEANS = {"int8": False}


class PredictionLog:
    """The predictions file of one evaluation folder and the entries already in it, by image."""

    def __init__(self, directory: Path, settings: DecodeSettings):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / PREDICTIONS
        settings_path = directory / SETTINGS
        wanted = asdict(settings)
        stored = None
        if settings_path.is_file():
            stored = ABSENT_MEANS | json.loads(settings_path.read_text(encoding="utf-8"))
        if self.path.is_file() and stored != wanted:
            changed = sorted(k for k in wanted if (stored or {}).get(k) != wanted[k])
            raise ValueError(
                f"{directory} holds predictions made with other settings ({', '.join(changed)}); "
                f"delete {self.path} or choose another output folder"
            )
        if stored != wanted:
            settings_path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
        self.entries: dict[str, dict] = self._read()

    def _read(self) -> dict[str, dict]:
        """Entries of the file; a last line cut short by a killed run is removed from it."""
        if not self.path.is_file():
            return {}
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            with self.path.open("r+b") as stream:
                stream.truncate(complete)
        entries: dict[str, dict] = {}
        for line in data[:complete].decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("image"), str):
                entries.setdefault(entry["image"], entry)
        return entries

    def append(self, entries: Sequence[dict]) -> None:
        """Add entries to the file (flushed at once: they are what a restart keeps)."""
        if not entries:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        for entry in entries:
            self.entries.setdefault(entry["image"], entry)


def decode_pending(
    loaded: LoadedModel,
    inputs: SplitInputs,
    log: PredictionLog,
    search: Search,
    batch_size: int,
    progress: bool = True,
) -> int:
    """Decode every item of `inputs` not yet in `log` with `loaded`, `batch_size` images at a
    time, appending batch by batch; returns how many images were decoded now. An item without
    a readable image is logged with the reason."""
    vocab = loaded.vocab
    names = inputs.split.names
    pending = [k for k, name in enumerate(names) if name not in log.entries]
    log.append(
        [
            _failed(names[k], f"no input image: {inputs.missing[k]}")
            for k in pending
            if k in inputs.missing
        ]
    )
    present = [k for k in pending if inputs.samples[k] is not None]
    if not present or inputs.reader is None:
        return 0
    dataset = FormulaDataset(inputs.reader, vocab)
    cells = _CellCounter(loaded.model, loaded.device)
    decoded = 0
    bar = tqdm(total=len(present), unit="image", desc=inputs.split.name, disable=not progress)
    for bucket, members in _batches(inputs.reader, inputs.samples, present, batch_size):
        entries, ready = [], []
        for k in members:
            try:
                ready.append((k, dataset[SampleKey(inputs.samples[k], bucket)]))
            except (OSError, ValueError) as error:
                entries.append(_failed(names[k], f"unreadable input image: {error}"))
        if ready:
            images = collate([item for _, item in ready])["images"]
            hypotheses, seconds = decode_batch(loaded.model, images, loaded.device, search)
            share = seconds / len(ready)
            per_step = cells(tuple(images.shape[-2:]))
            for (k, _), hyp in zip(ready, hypotheses, strict=True):
                chosen = first_well_formed(hyp, vocab)
                entry = _entry(names[k], chosen, vocab, share, per_step)
                if chosen is not hyp:
                    entry["beam_top"] = " ".join(vocab.decode(hyp.token_ids))
                entries.append(entry)
            decoded += len(ready)
        log.append(entries)
        bar.update(len(members))
    bar.close()
    return decoded


def _batches(
    reader: ShardReader, samples: Sequence[int | None], items: list[int], batch_size: int
) -> Iterator[tuple[Bucket, list[int]]]:
    """Items (whose sample in `reader` is `samples[k]`) of one size bucket, at most
    `batch_size` at a time, bucket by bucket."""
    chosen = [samples[k] for k in items]
    groups = bucket_groups(reader.heights[chosen], reader.widths[chosen])
    for bucket in sorted(groups):
        members = [items[j] for j in groups[bucket].tolist()]
        for start in range(0, len(members), batch_size):
            yield bucket, members[start : start + batch_size]


class _CellCounter:
    """(coarse cells, fine grid cells) an attention scores per step for an input size.

    Hypotheses carry the fine cells of each step but not the coarse ones; every step of an
    image scores the same coarse cells (all of them), so one encoding per size tells them.
    """

    def __init__(self, model: ImageToMarkupModel, device: torch.device):
        self.model = model
        self.device = device
        self.known: dict[tuple[int, ...], tuple[int, int] | None] = {}

    def __call__(self, shape: tuple[int, ...]) -> tuple[int, int] | None:
        if shape not in self.known:
            self.known[shape] = self._measure(shape)
        return self.known[shape]

    def _measure(self, shape: tuple[int, ...]) -> tuple[int, int] | None:
        encode = getattr(self.model, "encode", None)
        if encode is None:
            return None
        blank = torch.full((1, 1, *shape), 255, dtype=torch.uint8, device=self.device)
        with torch.inference_mode():
            memory = encode(blank)
        height, width = memory.fine_shape
        coarse = 0 if memory.coarse_mask is None else int(memory.coarse_mask.sum())
        return coarse, height * width


def _entry(
    name: str, hyp: Hypothesis, vocab: Vocab, seconds: float, per_step: tuple[int, int] | None
) -> dict:
    tokens = " ".join(vocab.decode(hyp.token_ids))
    entry = {
        "image": name,
        "tokens": tokens,
        "latex": detokenize(tokens),
        "score": round(float(hyp.score), 5),
        "seconds": round(seconds, 6),
    }
    if hyp.n_fine_cells is not None and per_step is not None:
        steps = len(hyp.n_fine_cells)
        coarse, grid = per_step
        entry |= {
            "steps": steps,
            "fine_cells": int(sum(hyp.n_fine_cells)),
            "coarse_cells": coarse * steps,
            "grid_cells": grid * steps,
        }
    return entry


def _failed(name: str, reason: str) -> dict:
    return {"image": name, "tokens": "", "error": reason}


def attention_cost(entries: Sequence[dict]) -> AttentionCost | None:
    """Cells scored per decoding step over all steps of `entries` (None without records)."""
    counted = [e for e in entries if "steps" in e]
    steps = sum(e["steps"] for e in counted)
    if steps == 0:
        return None
    return AttentionCost(
        fine_per_step=sum(e["fine_cells"] for e in counted) / steps,
        coarse_per_step=sum(e["coarse_cells"] for e in counted) / steps,
        fine_grid_cells=sum(e["grid_cells"] for e in counted) / steps,
        steps=steps,
    )
