"""Prediction speed on this machine: single-image latency, batch throughput, peak memory.

Images are shared IM2LATEX-100K test images whose gold formula has the median length of the
test set (53 tokens ± 3), so the decoder runs about as many steps as on a typical formula.
Without a trained model (`--model` absent and none bundled) a randomly initialised model of the
`--preset` size is used and decoding is forced to the median length, which is what the latency
of a trained model of that size would be on those images.

    .venv/bin/python benchmarks/predict_latency.py --images 20
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from im2markup.data.images.user_images import SCALE_MULTIPLIERS
from im2markup.inference.loading import default_model_dir
from im2markup.paths import shared_data_dir
from im2markup.serving.predictor import Predictor, load_model

MEDIAN_TOKENS = 53
TOLERANCE = 3


def median_length_images(count: int, dest: Path) -> list[Path]:
    """The first `count` test images whose gold formula is 50–56 tokens long."""
    root = shared_data_dir() / "im2latex100k"
    lines = (root / "formulas" / "test.formulas.norm.txt").read_text().splitlines()
    wanted = [
        f"{k}.png"
        for k, line in enumerate(lines)
        if abs(len(line.split()) - MEDIAN_TOKENS) <= TOLERANCE
    ][:count]
    with tarfile.open(root / "images_test.tar") as tar:
        for member in tar:
            if member.name in wanted:
                (dest / member.name).write_bytes(tar.extractfile(member).read())
    return [dest / name for name in wanted]


def random_predictor(preset_name: str, dest: Path, int8: bool) -> Predictor:
    """A model of the given size with random weights, decoding exactly the median length."""
    from im2markup.data.vocab import Vocab
    from im2markup.model.config import preset
    from im2markup.model.factory import build_model
    from im2markup.model.io import save_model

    torch.manual_seed(0)
    lines = (shared_data_dir() / "im2latex100k/formulas/val.formulas.norm.txt").read_text()
    vocab = Vocab.build(lines.splitlines())
    cfg = preset(preset_name, max_len=MEDIAN_TOKENS)
    save_model(build_model(cfg, len(vocab)), cfg, vocab, dest)
    return load_model(dest, int8=int8)


def time_single(predictor: Predictor, images: list[Path], beam: int) -> list[float]:
    predictor.predict(images[0], beam_size=beam)
    seconds = []
    for path in images:
        start = time.perf_counter()
        predictor.predict(path, beam_size=beam)
        seconds.append(time.perf_counter() - start)
    return seconds


def time_batch(predictor: Predictor, images: list[Path], beam: int) -> tuple[float, float]:
    """(images per second, mean output tokens) over one `predict_batch` call."""
    start = time.perf_counter()
    results = predictor.predict_batch(images, beam_size=beam)
    elapsed = time.perf_counter() - start
    tokens = [len(r.tokens.split()) for r in results if r.ok]
    return len(images) / elapsed, statistics.mean(tokens)


def measure(predictor: Predictor, images: list[Path], beam: int, scales: str) -> dict:
    """One row of the table: single-image latency, batch throughput, output length."""
    single = time_single(predictor, images, beam)
    throughput, tokens = time_batch(predictor, images, beam)
    return {
        "scales": scales,
        "beam": beam,
        "median_ms": round(1000 * statistics.median(single), 1),
        "p90_ms": round(1000 * statistics.quantiles(single, n=10)[-1], 1),
        "batch_images_per_s": round(throughput, 2),
        "mean_output_tokens": round(tokens, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model directory (default: bundled, else random)")
    parser.add_argument("--preset", default="small", help="size of the random model")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fp32", action="store_true", help="float32 instead of the CPU default")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        images = median_length_images(args.images, Path(tmp))
        try:
            model_dir = Path(args.model) if args.model else default_model_dir()
            predictor, model_name = load_model(model_dir, int8=not args.fp32), str(model_dir)
        except FileNotFoundError:
            predictor = random_predictor(args.preset, Path(tmp) / "random", not args.fp32)
            model_name = f"random {args.preset} (max_len {MEDIAN_TOKENS})"
        predictor.batch_size = args.batch_size
        rows = []
        for scales, multipliers in (("search", SCALE_MULTIPLIERS), ("estimate", (1.0,))):
            predictor.scale_multipliers = multipliers
            rows += [measure(predictor, images, beam, scales) for beam in (1, 5)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "model": model_name,
        "weights": "float32" if args.fp32 else "int8 decoder, bf16 convolutions where native",
        "images": args.images,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "cpu": platform.processor() or platform.machine(),
        "rows": rows,
        "peak_rss_mib": round(peak_mib),
    }
    print(json.dumps(report, indent=2))
    print(
        "\n| scales | beam | median single (ms) | p90 single (ms) | batch (images/s) "
        "| output tokens |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['scales']} | {row['beam']} | {row['median_ms']} | {row['p90_ms']} | "
            f"{row['batch_images_per_s']} | {row['mean_output_tokens']} |"
        )
    print(f"\npeak RSS {report['peak_rss_mib']} MiB, {report['weights']}")


if __name__ == "__main__":
    main()
