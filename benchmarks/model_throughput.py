"""Model speed on this machine: training steps and decoding, images per second.

For each size preset and image bucket it times one SGD training step in float32 and under
bfloat16 autocast (also with the model in channels-last layout, as the trainer runs it, and
so again with the CNN frozen, as `train.freeze = ["cnn"]` trains a warm-started variant),
greedy decoding and beam-5 decoding, and (for the CNN alone) eager float32 against
channels-last and `torch.compile`. Weights are random, so `<eos>` is suppressed and every
decode runs exactly `--tokens` steps (the median test formula length); targets for the
training step have the same length. Every figure is the median of `--repeats` timed runs
after one warm-up.

    .venv/bin/python benchmarks/model_throughput.py
    .venv/bin/python benchmarks/model_throughput.py --presets small --sizes 32x160 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from im2markup.data.vocab import BOS_ID, EOS_ID
from im2markup.model.config import preset
from im2markup.model.encoder import CNNEncoder
from im2markup.model.factory import build_model
from im2markup.training.freezing import freeze

VOCAB_SIZE = 500
MEDIAN_TOKENS = 53


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `fn` over `repeats` runs, after one untimed warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_batch(batch: int, height: int, width: int, tokens: int) -> dict[str, torch.Tensor]:
    """White images with black bars (formula-like ink density) and random targets."""
    generator = torch.Generator().manual_seed(0)
    images = torch.full((batch, 1, height, width), 255, dtype=torch.uint8)
    for row in range(batch):
        for x in range(8, width - 8, 12):
            top = int(torch.randint(4, height // 2, (1,), generator=generator))
            images[row, 0, top : top + height // 3, x : x + 5] = 0
    tgt = torch.randint(4, VOCAB_SIZE, (batch, tokens + 2), generator=generator)
    tgt[:, 0], tgt[:, -1] = BOS_ID, EOS_ID
    return {"images": images, "tgt": tgt, "tgt_lengths": torch.full((batch,), tokens + 1)}


def training_step(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], bf16: bool
) -> Callable[[], None]:
    """One SGD step of `model` on `batch`, with its own optimizer."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

    def step() -> None:
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model.training_loss(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def time_model(
    preset_name: str, height: int, width: int, batch_size: int, tokens: int, repeats: int
) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model(preset(preset_name), VOCAB_SIZE)
    batch = make_batch(batch_size, height, width, tokens)
    pixel_major = copy.deepcopy(model).to(memory_format=torch.channels_last)
    frozen = copy.deepcopy(pixel_major)
    freeze(frozen, ["cnn"])
    results = {
        "train_fp32": batch_size / median_seconds(training_step(model, batch, False), repeats),
        "train_bf16": batch_size / median_seconds(training_step(model, batch, True), repeats),
        "train_bf16_cl": batch_size
        / median_seconds(training_step(pixel_major, batch, True), repeats),
        "train_bf16_cl_frozen": batch_size
        / median_seconds(training_step(frozen, batch, True), repeats),
    }
    model.eval()
    with torch.no_grad():
        model.decoder.out.bias[EOS_ID] = -1e4
    for name, beam in (("greedy", 1), ("beam5", 5)):

        def decode(beam: int = beam) -> None:
            hyps = model.decode(batch["images"], beam_size=beam, max_len=tokens)
            assert all(len(h.token_ids) == tokens for h in hyps)

        results[name] = batch_size / median_seconds(decode, repeats)
    return results


def time_cnn(
    preset_name: str, height: int, width: int, batch_size: int, repeats: int
) -> dict[str, float]:
    """CNN forward+backward images/s: eager, channels-last, and compiled (inductor)."""
    torch.manual_seed(0)
    images = make_batch(batch_size, height, width, 1)["images"]
    results = {}
    for variant in ("eager", "channels_last", "compiled"):
        cnn = CNNEncoder(preset(preset_name).widths)
        run = cnn
        inputs = images
        if variant == "channels_last":
            cnn = cnn.to(memory_format=torch.channels_last)
            inputs = images.contiguous(memory_format=torch.channels_last)
        if variant == "compiled":
            run = torch.compile(cnn)

        def step(run: Callable = run, inputs: torch.Tensor = inputs) -> None:
            run(inputs).float().square().mean().backward()

        start = time.perf_counter()
        step()
        warmup = time.perf_counter() - start
        results[f"cnn_{variant}"] = batch_size / median_seconds(step, repeats)
        if variant == "compiled":
            results["cnn_compile_seconds"] = warmup
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--sizes", nargs="+", default=["32x160", "64x320"], help="HxW buckets")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=MEDIAN_TOKENS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-cnn", action="store_true", help="skip the CNN layout/compile runs")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or 'cpu'}, "
        f"batch {args.batch}, {args.tokens} tokens, median of {args.repeats}"
    )
    rows = []
    header = (
        "| preset | size | train fp32 | train bf16 | bf16 channels-last | CNN frozen "
        "| greedy | beam 5 |"
    )
    print(header + "\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.presets:
        for size in args.sizes:
            height, width = map(int, size.split("x"))
            r = time_model(name, height, width, args.batch, args.tokens, args.repeats)
            rows.append({"preset": name, "size": size, **r})
            print(
                f"| {name} | {size} | {r['train_fp32']:.1f} | {r['train_bf16']:.1f} "
                f"| {r['train_bf16_cl']:.1f} | {r['train_bf16_cl_frozen']:.1f} "
                f"| {r['greedy']:.1f} | {r['beam5']:.1f} |",
                flush=True,
            )
    if not args.skip_cnn:
        print("\n| preset | size | CNN eager | channels-last | compiled | compile time (s) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name in args.presets:
            size = args.sizes[-1]
            height, width = map(int, size.split("x"))
            r = time_cnn(name, height, width, args.batch, args.repeats)
            rows.append({"preset": name, "size": size, **r})
            print(
                f"| {name} | {size} | {r['cnn_eager']:.1f} | {r['cnn_channels_last']:.1f} "
                f"| {r['cnn_compiled']:.1f} | {r['cnn_compile_seconds']:.0f} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
