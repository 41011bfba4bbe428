"""`im2markup evaluate --model DIR --split NAME`: decode an evaluation split and score it.

One command makes rows of the results table anyone can re-run with shipped weights: the
split's input images (`model_inputs`: the built dataset's, else made by the split's loader)
are decoded in size-bucket batches (`split_decoding`, resumable), then scored by the same
path as any predictions file (`scoring`, `report`: BLEU, edit distances, image match with gold
and predictions rendered alike). Items without an input image count as empty predictions, so
the denominator is always the whole split (`n`, `n_missing_input`).

`metrics.json` adds what the paper's table reports about a model, decoding speed and attention
cells scored per step, and what was evaluated: model (folder, weights digest, configuration,
parameter count), dataset manifest hash, command and commit. `val` gives two rows, its paper
renders (`val`) and its shared images (`val-shared`); every row has its own folder.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from im2markup.data.corpus.manifest import file_digest
from im2markup.data.handwriting.crohme import crohme_mask
from im2markup.evaluation.model_inputs import FORMS, SplitInputs, gold_split, split_inputs
from im2markup.evaluation.report import FILES_DIR, columns, fmt, metrics_table, write_results
from im2markup.evaluation.scoring import RenderOptions, score_predictions
from im2markup.evaluation.split_decoding import (
    DecodeSettings,
    PredictionLog,
    attention_cost,
    decode_pending,
)
from im2markup.inference.batches import Search
from im2markup.inference.defaults import BATCH_SIZE
from im2markup.inference.loading import load_for_inference
from im2markup.model.base import ImageToMarkupModel
from im2markup.model.config import ModelConfig
from im2markup.paths import cache_dir, data_dir, git_commit

MODEL_COLUMNS = (
    ("mean_fine_cells_per_step", "fine cells/step"),
    ("decode_images_per_second", "images/s"),
)
"""The paper's table after its metrics: attention cost and decoding speed."""


@dataclass(frozen=True)
class ModelEvalOptions:
    """How to evaluate: decoding (`beam_size` 1 = greedy and `max_len`, None = those saved with
    the model; `batch_size`, `threads` None = PyTorch's default, `device`, `int8` weights
    (`model.quantize`) on a CPU as `im2markup predict` decodes by default), which items (`limit`
    first ones, `forms` of the split, None = all), where the inputs come from (`dataset` under
    the data folder) and how scoring renders (`images` False = text metrics only)."""

    beam_size: int | None = None
    batch_size: int = BATCH_SIZE
    max_len: int | None = None
    threads: int | None = 1
    device: str = "cpu"
    int8: bool = False
    limit: int | None = None
    forms: tuple[str, ...] | None = None
    dataset: str = "im2latex-v1"
    images: bool = True
    render: RenderOptions = field(default_factory=RenderOptions)


def evaluate_model(
    model_dir: Path,
    split_name: str,
    out_dir: Path | None = None,
    options: ModelEvalOptions | None = None,
) -> tuple[list[tuple[str, dict]], Path]:
    """Evaluate the model in `model_dir` on every form of `split_name`; returns one
    (row label, metrics) per form and the output folder (default under
    `<cache>/evaluations`, named after split, model, weights digest and beam)."""
    options = options or ModelEvalOptions()
    model_dir = Path(model_dir)
    if split_name not in FORMS:
        raise ValueError(f"unknown split {split_name!r}; choose one of {', '.join(FORMS)}")
    forms = options.forms or FORMS[split_name]
    if (options.beam_size is not None and options.beam_size < 1) or options.batch_size < 1:
        raise ValueError("beam size and batch size must be at least 1")
    try:
        loaded = load_for_inference(
            model_dir, options.device, threads=options.threads, int8=options.int8
        )
    except RuntimeError as error:  # CUDA asked for and absent: the caller's mistake
        raise ValueError(str(error)) from None
    options = replace(
        options,
        beam_size=options.beam_size or loaded.decode.beam_size,
        max_len=options.max_len if options.max_len is not None else loaded.decode.max_len,
    )
    model, cfg, vocab, int8 = loaded.model, loaded.config, loaded.vocab, loaded.int8
    digest = file_digest(loaded.weights_file)
    out_dir = out_dir or default_out_dir(model_dir, split_name, digest, options.beam_size, int8)
    crohme = split_name == "crohme2014"
    allowed = crohme_mask(vocab).to(loaded.device) if crohme else None
    search = Search(options.beam_size, options.max_len, allowed_tokens=allowed)
    context = {
        "model": model_summary(model_dir, model, cfg, len(vocab), digest),
        "command": command_line(model_dir, split_name, out_dir, options),
        "git_commit": git_commit(),
    }
    rows = []
    for form in forms:
        start = time.perf_counter()
        split = gold_split(split_name, form, data_dir() / options.dataset).head(options.limit)
        folder = out_dir / split.name
        inputs = split_inputs(
            split, split_name, form, data_dir() / options.dataset, folder, options.render
        )
        settings = DecodeSettings(
            digest,
            split.name,
            inputs.manifest_hash or inputs.source,
            options.beam_size,
            options.max_len,
            crohme,
            int8=int8,
        )
        log = PredictionLog(folder, settings)
        decoded_now = decode_pending(
            loaded, inputs, log, search, options.batch_size, options.render.progress
        )
        metrics, items = _score(inputs, log, folder, options, decoded_now)
        metrics |= context | {"seconds": round(time.perf_counter() - start, 1)}
        _write(folder, metrics, items, inputs, log)
        rows.append((split.name, metrics))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table.md").write_text(summary_markdown(rows), encoding="utf-8")
    return rows, out_dir


def _score(
    inputs: SplitInputs, log: PredictionLog, folder: Path, options: ModelEvalOptions, now: int
) -> tuple[dict, list[dict]]:
    """Corpus metrics over every item, plus decoding figures over the items decoded; and the
    per-item records."""
    entries = [log.entries[name] for name in inputs.split.names]
    tokens = [None if "error" in e else e["tokens"].split() for e in entries]
    metrics, items = score_predictions(
        inputs.split,
        tokens,
        images=options.images,
        render=options.render,
        files_dir=folder / FILES_DIR if options.images else None,
    )
    decoded = [e for e in entries if "error" not in e]
    seconds = sum(e["seconds"] for e in decoded)
    cost = attention_cost(decoded)
    metrics |= {
        "predictions": str(log.path),
        "n_missing_input": len(entries) - len(decoded),
        "inputs": inputs.source,
        "dataset_manifest_hash": inputs.manifest_hash,
        "n_decoded": len(decoded),
        "n_decoded_now": now,
        "decode_seconds": round(seconds, 3),
        "decode_images_per_second": round(len(decoded) / seconds, 3) if seconds > 0 else None,
        "decode_threads": torch.get_num_threads(),
        "decode_beam": options.beam_size,
        "decode_batch_size": options.batch_size,
        "decode_max_len": options.max_len,
        "decode_device": str(options.device),
        "attention_steps": cost.steps if cost else 0,
        "mean_fine_cells_per_step": cost.fine_per_step if cost else None,
        "mean_coarse_cells_per_step": cost.coarse_per_step if cost else None,
        "mean_fine_grid_cells": cost.fine_grid_cells if cost else None,
    }
    return metrics, items


def _write(
    folder: Path, metrics: dict, items: list[dict], inputs: SplitInputs, log: PredictionLog
) -> None:
    """The usual result files, with the model columns added to `metrics.md`'s table."""
    problems = [
        f"{name}: {log.entries[name]['error']}"
        for name in inputs.split.names
        if "error" in log.entries[name]
    ]
    write_results(folder, metrics, items, problems)
    row = [(metrics["split"], metrics)]
    markdown = folder / "metrics.md"
    text = markdown.read_text(encoding="utf-8")
    text = text.replace(metrics_table(row), model_table(row), 1)
    markdown.write_text(f"{text}\n{decoding_sentence(metrics)}\n", encoding="utf-8")


def model_table(rows: Sequence[tuple[str, dict]]) -> str:
    """The results table: the paper's (or CROHME's) metrics, fine cells per step, images/s."""
    shown = (*columns(rows), *MODEL_COLUMNS)
    lines = [
        "| | " + " | ".join(title for _, title in shown) + " |",
        "| --- |" + " ---: |" * len(shown),
    ]
    for label, metrics in rows:
        lines.append(f"| {label} | " + " | ".join(fmt(metrics.get(k)) for k, _ in shown) + " |")
    return "\n".join(lines)


def decoding_sentence(metrics: dict) -> str:
    """How the predictions were made, in words."""
    model = metrics["model"]
    coarse = metrics["mean_coarse_cells_per_step"]
    return (
        f"Model `{model['dir']}` ({model['arch']}, {model['attention']} attention, "
        f"{model['parameters']:,} parameters), beam {metrics['decode_beam']}, batch "
        f"{metrics['decode_batch_size']}, {metrics['decode_threads']} thread(s) on "
        f"{metrics['decode_device']}: {metrics['n_decoded']} images decoded in "
        f"{metrics['decode_seconds']} s ({fmt(metrics['decode_images_per_second'])} images/s); "
        f"{metrics['n_missing_input']} items had no input image and count as empty predictions. "
        f"Attention: {fmt(metrics['mean_fine_cells_per_step'])} fine and {fmt(coarse)} coarse "
        f"cells per step (fine grid {fmt(metrics['mean_fine_grid_cells'])} cells). "
        f"Inputs: {metrics['inputs']} (dataset {metrics['dataset_manifest_hash']}). "
        f"Command: `{metrics['command']}` at commit {metrics['git_commit']}."
    )


def summary_markdown(rows: Sequence[tuple[str, dict]]) -> str:
    """`table.md`: one row per evaluated form, then how each was made."""
    parts = [model_table(rows)] + [f"**{label}**: {decoding_sentence(m)}" for label, m in rows]
    return "\n\n".join(parts) + "\n"


def model_summary(
    model_dir: Path, model: ImageToMarkupModel, cfg: ModelConfig, vocab_size: int, digest: str
) -> dict:
    """What identifies the evaluated model."""
    return {
        "dir": str(model_dir.resolve()),
        "weights_sha256": digest,
        "arch": cfg.arch,
        "attention": cfg.attention,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": vocab_size,
        "config": cfg.to_dict(),
    }


def default_out_dir(
    model_dir: Path, split_name: str, digest: str, beam_size: int, int8: bool = False
) -> Path:
    """`<cache>/evaluations/<split>-<model>-<digest>-beam<k>[-int8]`; `<model>` names the
    folder and its parent (`small-v1-best`), the digest tells weights saved into the same
    folder apart."""
    resolved = model_dir.resolve()
    label = "-".join(p for p in (resolved.parent.name, resolved.name) if p)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    suffix = "-int8" if int8 else ""
    return cache_dir() / "evaluations" / f"{split_name}-{safe}-{digest[:8]}-beam{beam_size}{suffix}"


def command_line(model_dir: Path, split_name: str, out_dir: Path, options: ModelEvalOptions) -> str:
    """The `im2markup evaluate` command that repeats this evaluation, every setting spelled out
    (defaults may change; the record should not)."""
    words = ["im2markup", "evaluate", "--model", str(model_dir), "--split", split_name]
    words += ["--beam", str(options.beam_size), "--batch-size", str(options.batch_size)]
    words += ["--threads", str(options.threads)] if options.threads is not None else []
    words += ["--device", options.device, "--dataset", options.dataset, "--out", str(out_dir)]
    words += ["--int8"] if options.int8 else []
    words += ["--limit", str(options.limit)] if options.limit is not None else []
    words += [w for form in options.forms or () for w in ("--form", form)]
    words += ["--max-len", str(options.max_len)] if options.max_len is not None else []
    words += [] if options.images else ["--no-images"]
    if options.render.style is not None:
        words += ["--style", options.render.style]
    return shlex.join(words)
