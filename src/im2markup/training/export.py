"""Turn a training run into a shippable model directory: bf16 weights, metadata, model card.

A run keeps full-precision weights of its best validation in `best/` and everything else in
its checkpoints; what ships is half that size and says where it came from (run, step, images
seen, validation figures, data manifest, commit), so a number quoted for the bundled model can
be traced to the run that made it.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from im2markup.data.corpus.manifest import file_digest, load_manifest
from im2markup.data.corpus.pseudo_label_files import is_pseudo_label_source
from im2markup.data.vocab import Vocab
from im2markup.model.config import ModelConfig
from im2markup.model.factory import build_model
from im2markup.model.io import (
    WEIGHTS_FILE,
    clean_state_dict,
    read_config,
    read_decode_config,
    save_model,
)
from im2markup.paths import git_commit
from im2markup.training.checkpoint import LAST, load_checkpoint
from im2markup.training.config import ExperimentConfig
from im2markup.training.logs import METRICS_NAME, read_metrics
from im2markup.training.runs import RunError
from im2markup.training.session import dataset_path

CARD = "MODEL_CARD.md"
_FIGURES = ("perplexity", "token_accuracy", "exact_match", "bleu")


def export_run(
    run_dir: Path, out: Path, *, last: bool = False, average_with: Sequence[Path] = ()
) -> Path:
    """Write the run's best validated weights (or its last checkpoint with `last`) to `out`.

    With `average_with`, the weights shipped are the mean of this run's and those runs' (each
    chosen the same way): runs continued from one start, one on clean images and one with
    augmentation, lie in one basin, and their mean can keep the strengths of both (a "model
    soup", measured in `results/runs.md`). The averaged model has no validation of its own.
    """
    cfg, vocab, state, provenance = _run_weights(run_dir, last)
    model = build_model(cfg.model, len(vocab))
    others = [_run_weights(other, last) for other in average_with]
    for other_cfg, other_vocab, _, other_provenance in others:
        if other_cfg.model != cfg.model or other_vocab.itos != vocab.itos:
            raise RunError(
                f"run {other_provenance['run']} has another model or vocabulary than "
                f"{run_dir.name}; only runs of one architecture and vocabulary can be averaged"
            )
    model.load_state_dict(average_weights([state, *(weights for _, _, weights, _ in others)]))
    metadata = {
        "run": run_dir.name,
        "description": cfg.description,
        "step": provenance["step"],
        "images_seen": provenance["images_seen"],
        "validation": {} if others else provenance["validation"],
        "averaged_with": [origin for _, _, _, origin in others],
        "data": {"name": cfg.data.name, **_manifest_summary(dataset_path(cfg.data))},
        "train": {
            k: getattr(cfg.train, k)
            for k in ("optimizer", "lr", "schedule", "precision", "seed", "max_steps")
        },
        "batch_size": cfg.data.batch_size,
        "augment": cfg.data.augment,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(vocab),
        "commit": git_commit(),
        "exported": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    save_model(model, cfg.model, vocab, out, metadata=metadata, bf16=True, decode=cfg.decode)
    (out / CARD).write_text(model_card(out.name, metadata, cfg.model), encoding="utf-8")
    return out


def average_models(models: Sequence[Path], out: Path) -> Path:
    """Write to `out` the element-wise mean of the weights of exported model directories.

    A shipped model's run may be gone while its weights stay in the repository; models
    continued from one another (a run and its fine-tuned descendant) lie in one basin, so
    their mean is a model soup like `export_run`'s `average_with`. The first model's
    provenance is kept, the others are listed with the digests of their weights, and the
    mean has no validation of its own. A model that is itself a mean keeps its own list under
    its entry, so a soup of soups still names every run in it.
    """
    if len(models) < 2:
        raise RunError("averaging needs at least two model directories")
    loaded = [_model_weights(directory) for directory in models]
    model_cfg, vocab, _, first_meta = loaded[0]
    for directory, (other_cfg, other_vocab, _, _) in zip(models[1:], loaded[1:], strict=True):
        if other_cfg != model_cfg or other_vocab.itos != vocab.itos:
            raise RunError(
                f"{directory} has another model or vocabulary than {models[0]}; only models "
                "of one architecture and vocabulary can be averaged"
            )
    model = build_model(model_cfg, len(vocab))
    model.load_state_dict(average_weights([weights for _, _, weights, _ in loaded]))
    others = [
        {
            "run": meta.get("run", directory.name),
            "step": meta.get("step", 0),
            "images_seen": meta.get("images_seen", 0),
            "weights_sha256": file_digest(directory / WEIGHTS_FILE),
            **({"averaged_with": meta["averaged_with"]} if meta.get("averaged_with") else {}),
        }
        for directory, (_, _, _, meta) in zip(models[1:], loaded[1:], strict=True)
    ]
    metadata = {
        **first_meta,
        "validation": {},
        "weights_sha256": file_digest(models[0] / WEIGHTS_FILE),
        "averaged_with": others,
        "average_command": shlex.join(
            ["im2markup", "train", "--export", str(models[0]), "--average"]
            + [str(directory) for directory in models[1:]]
            + ["--out", "DIR"]
        ),
        "commit": git_commit(),
        "exported": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    save_model(
        model,
        model_cfg,
        vocab,
        out,
        metadata=metadata,
        bf16=True,
        decode=read_decode_config(models[0]),
    )
    (out / CARD).write_text(model_card(out.name, metadata, model_cfg), encoding="utf-8")
    return out


def is_model_dir(path: Path) -> bool:
    """Whether `path` is an exported model directory (rather than a run's name)."""
    return (path / "config.json").is_file() and (path / WEIGHTS_FILE).is_file()


def _model_weights(directory: Path) -> tuple[ModelConfig, Vocab, dict[str, Tensor], dict[str, Any]]:
    if not is_model_dir(directory):
        raise RunError(f"{directory} is not a model directory (config.json and {WEIGHTS_FILE})")
    model_cfg, vocab, meta = read_config(directory)
    return model_cfg, vocab, clean_state_dict(load_file(str(directory / WEIGHTS_FILE))), meta


def average_weights(states: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The element-wise mean of state dicts of one architecture, in float32; counters (integer
    buffers such as batch-norm's batch count) are taken from the first."""
    first = states[0]
    return {
        name: (
            torch.stack([state[name].float() for state in states]).mean(0).to(tensor.dtype)
            if tensor.is_floating_point()
            else tensor
        )
        for name, tensor in first.items()
    }


def _run_weights(
    run_dir: Path, last: bool
) -> tuple[ExperimentConfig, Vocab, dict[str, Tensor], dict[str, Any]]:
    """A run's configuration, vocabulary, chosen weights and their provenance (run, step,
    images seen, validation figures): `best/`, or the last checkpoint with `last` or when
    nothing was validated yet."""
    checkpoint_path = run_dir / "checkpoints" / LAST
    if not checkpoint_path.exists():
        raise RunError(f"run {run_dir.name} has no checkpoint at {checkpoint_path}")
    state = load_checkpoint(checkpoint_path)
    cfg = ExperimentConfig.from_dict(state["config"])
    vocab = Vocab(state["vocab"])
    if last or not (run_dir / "best" / WEIGHTS_FILE).exists():
        weights = state["model"]
        step, images = int(state["step"]), int(state["images"])
        validation = _validation_rows(run_dir).get(step)
    else:
        best_cfg, best_vocab, best_meta = read_config(run_dir / "best")
        if best_cfg != cfg.model or best_vocab.itos != vocab.itos:
            raise RunError(f"{run_dir / 'best'} does not match the run's model and vocabulary")
        weights = clean_state_dict(load_file(str(run_dir / "best" / WEIGHTS_FILE)))
        step, images, validation = _best_provenance(run_dir, best_meta)
    figures = {k: v for k, v in (validation or {}).items() if k in _FIGURES}
    provenance = {"run": run_dir.name, "step": step, "images_seen": images, "validation": figures}
    return cfg, vocab, weights, provenance


def _validation_rows(run_dir: Path) -> dict[int, dict[str, float]]:
    """The validation figures of `metrics.csv` by step, with the images seen at that step."""
    rows = {}
    for row in read_metrics(run_dir / METRICS_NAME):
        if row.get("kind") == "val":
            figures = {k: float(row[k]) for k in _FIGURES if row.get(k)}
            rows[int(row["step"])] = {**figures, "images": float(row["images"])}
    return rows


def _best_provenance(run_dir: Path, meta: dict[str, Any]) -> tuple[int, int, dict[str, float]]:
    """Step, images and validation of the weights in `best/`: from their own metadata, or (for
    weights saved without it) the validation row the trainer's rule ranks first: highest exact
    match, then lowest perplexity."""
    if "step" in meta:
        return int(meta["step"]), int(meta["images"]), meta["validation"]
    rows = _validation_rows(run_dir)
    if not rows:
        raise RunError(f"run {run_dir.name} has best/ weights but no validation row")
    step = max(rows, key=lambda s: (rows[s].get("exact_match", 0.0), -rows[s]["perplexity"]))
    figures = {k: v for k, v in rows[step].items() if k != "images"}
    return step, int(rows[step]["images"]), figures


def _manifest_summary(directory: Path) -> dict[str, Any]:
    try:
        manifest = load_manifest(directory)
    except (OSError, json.JSONDecodeError):
        return {"manifest_hash": None}
    splits = manifest.get("splits", {})
    sizes = {name: split.get("samples") for name, split in splits.items()}
    styles = {
        key.rsplit("/", 1)[-1]
        for split in splits.values()
        for key in split.get("by_source_style", {})
    }
    pseudo: dict[str, int] = {}
    for key, n in splits.get("train", {}).get("by_source_style", {}).items():
        source, _, style = key.rpartition("/")
        if is_pseudo_label_source(source):
            pseudo[style] = pseudo.get(style, 0) + n
    return {
        "manifest_hash": manifest.get("manifest_hash"),
        "splits": sizes,
        "styles": sorted(styles),
        "pseudo_label_samples": pseudo,
    }


def model_card(name: str, meta: dict[str, Any], m: ModelConfig) -> str:
    """The Markdown card shipped next to the weights."""
    v = meta["validation"]
    figures = (
        f"perplexity {v['perplexity']:.3f}, token accuracy {v['token_accuracy']:.2f}%, "
        f"exact token match {v['exact_match']:.2f}%, BLEU {v['bleu']:.2f}"
        if {"perplexity", "token_accuracy", "exact_match", "bleu"} <= set(v)
        else "none recorded"
    )
    splits = meta["data"].get("splits") or {}
    split_text = ", ".join(f"{k} {n:,}" for k, n in splits.items() if isinstance(n, int))
    t = meta["train"]
    handwritten = any(
        style.startswith(_HANDWRITTEN_STYLES) for style in meta["data"].get("styles", ())
    )
    averaged = _average_text(meta)
    return f"""# Model card: {name}

{meta["description"]}: {meta["parameters"]:,} parameters, {meta["vocab_size"]} tokens.
Weights are stored as bfloat16 in `model.safetensors` (loaded back as float32); the
configuration, vocabulary and the provenance below are in `config.json`.

## Architecture
{_architecture_text(m)}

## Training
- Run `{meta["run"]}`, selected at step {meta["step"]:,} after {meta["images_seen"]:,} images
  (batch {meta["batch_size"]}, {t["optimizer"]}, learning rate {t["lr"]}, {t["schedule"]}
  schedule, {t["precision"]}, seed {t["seed"]}, load-time augmentation
  {"on" if meta["augment"] else "off"} at the end; the run's `train.log` has its history).
- Data: `{meta["data"]["name"]}` (manifest {meta["data"]["manifest_hash"]}; {split_text}),
  {_HANDWRITTEN_DATA if handwritten else _PRINTED_DATA}{_pseudo_label_text(meta["data"])}
- Validation at selection (held-out validation formulas, greedy decoding): {figures}.{averaged}
- Code: commit {meta["commit"]}; exported {meta["exported"]}.

## Intended use and limits
{_HANDWRITTEN_USE if handwritten else _PRINTED_USE}
"""


def _architecture_text(m: ModelConfig) -> str:
    """The model-card sentence on the architecture, per `arch`."""
    cnn = f"a CNN encoder (widths {list(m.cnn_widths)} scaled by {m.width_mult})"
    if m.arch == "ctc":
        return (
            f"The CTC baseline of Deng et al. (ICML 2017): {cnn}, a bidirectional LSTM of "
            f"{m.encoder_hidden} per direction along the columns, {m.ctc_frames_per_column} "
            "output frames per column and a CTC loss; no attention."
        )
    encoder = (
        f"a bidirectional row encoder of {m.encoder_hidden} per direction, "
        if m.arch == "seq2seq"
        else "no row encoder (the CNNEnc baseline), "
    )
    return (
        f"The IM2TEX model of Deng et al. (ICML 2017): {cnn}, {encoder}an LSTM decoder of "
        f"{m.decoder_hidden} units with {m.attention} attention and input feeding, target "
        f"embedding {m.embed_dim}."
    )


def _averaged_member(origin: dict[str, Any]) -> str:
    """One averaged run or model in words, with the runs of its own mean if it is one."""
    text = f"`{origin['run']}` step {origin['step']:,} ({origin['images_seen']:,} images)"
    inner = origin.get("averaged_with") or []
    if inner:
        text += " (itself the mean with " + ", ".join(_averaged_member(o) for o in inner) + ")"
    return text


def _average_text(meta: dict[str, Any]) -> str:
    """The card's line on weight averaging, if the weights are a mean of several runs' or
    models'."""
    others = meta.get("averaged_with") or []
    if not others:
        return ""
    parts = ", ".join(_averaged_member(o) for o in others)
    names = " ".join(o["run"] for o in others)
    command = meta.get("average_command") or (
        f"im2markup train --export {meta['run']} --average {names} --out DIR"
    )
    return (
        f"\n- Weights: the element-wise mean of this run's and those of {parts}"
        f"\n  (`{command}`); the"
        f"\n  mean has no validation of its own at export (`benchmarks/validation_subset.py`"
        f"\n  measures it on a run's validation images)."
    )


def _pseudo_label_text(data: dict[str, Any]) -> str:
    """The card's line on verified pseudo-labels among the training pairs, if any."""
    counts = data.get("pseudo_label_samples") or {}
    if not counts:
        return ""
    parts = ", ".join(f"{n:,} {style}" for style, n in sorted(counts.items()))
    return (
        f"\n- Training pairs from render-verified pseudo-labels of the paper's unlabeled training"
        f"\n  images (`im2markup data pseudo-label`), by style: {parts}."
    )


# Dataset styles of handwriting: font-drawn, real ink drawn as bitmaps, real glyphs laid out.
_HANDWRITTEN_STYLES = ("handwritten", "ink", "glyphs")

_PRINTED_DATA = """\
built by `im2markup data build`: IM2LATEX-100K formulas and real arXiv formulas, none equal
  to a test formula in normalized form, each rendered in the paper's style and in the style
  of the shared images."""

_HANDWRITTEN_DATA = """\
built by `im2markup data build-handwritten` (`docs/handwriting.md`): the real CROHME 2014
  training inks drawn as bitmaps (`--ink`), formulas written with real segmented glyphs
  (`--glyphs`) or drawn with handwriting fonts, as the styles above say.
  No CROHME test caption or bitmap was used for training or model selection."""

_PRINTED_USE = """\
Typeset formulas as LaTeX renders them: rendered equations, screenshots of PDFs, clean
scans. User images are converted to gray, inverted when light on dark, cleared of grain on
the paper, cropped to the ink and read at four scales around the one where their glyphs
match the training renders (large or thin-stroked images also with strokes as heavy as
theirs). Very long formulas (more than ~150 tokens), environments with many rows,
handwriting and photographs of paper are outside what it was trained on. The output is the
normalized LaTeX (compacted for pasting); it is checked by rendering only with `--verify`.
Test figures, and the commands that measure them, are in `results/README.md`."""

_HANDWRITTEN_USE = """\
Handwritten formulas written with CROHME's 110 symbols (`im2markup predict --handwritten`
keeps its output to those symbols and reads the image as writing on paper). Writing far from
CROHME's (symbols outside its set, long multi-line derivations, heavy shadows) is read less
well. Test figures on the 986 CROHME 2014 expressions, and the commands that measure them,
are in `results/README.md`."""
