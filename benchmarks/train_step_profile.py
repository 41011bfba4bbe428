"""Where one training step's time goes, on the CPU or a GPU: the first thing to run on a new device.

For each batch size it times the forward pass, the backward pass and the optimizer step
separately (synchronising the device between them), the images/s of the whole step, and the
cost of the first step at a shape the process has not seen yet (cuDNN autotuning, allocator
growth, lazy initialisation), which a bucketed data loader pays once per bucket and batch size.
With `--profile` it adds the operators that take most host time and, on a GPU, how many kernels
one step launches and how busy they keep the device, which tells a launch-bound step (host time
≈ step time, device mostly idle) from a device-bound one.

    .venv/bin/python benchmarks/train_step_profile.py --attention standard --batch 8 32
    python3 benchmarks/train_step_profile.py --device cuda --batch 32 128 512 --profile
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from im2markup.model.config import preset
from im2markup.model.factory import build_model
from model_throughput import MEDIAN_TOKENS, VOCAB_SIZE, make_batch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def phase_times(
    step: Callable[[], tuple[float, float, float]], repeats: int
) -> tuple[float, float, float]:
    """Median seconds of (forward, backward, optimizer) over `repeats` steps."""
    runs = [step() for _ in range(repeats)]
    return tuple(statistics.median(run[k] for run in runs) for k in range(3))  # type: ignore[return-value]


def make_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    device: torch.device,
    bf16: bool,
) -> Callable[[], tuple[float, float, float]]:
    def step() -> tuple[float, float, float]:
        synchronize(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model.training_loss(batch).loss
        synchronize(device)
        forward = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        synchronize(device)
        backward = time.perf_counter()
        optimizer.step()
        synchronize(device)
        end = time.perf_counter()
        return forward - start, backward - forward, end - backward

    return step


def profile_step(step: Callable[[], object], device: torch.device) -> str:
    """Top operators by host time over two steps, and the device's kernel count and busy time."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(2):
            step()
    events = prof.key_averages()
    lines = [events.table(sort_by="self_cpu_time_total", row_limit=12)]
    if device.type == "cuda":
        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
        launches = sum(e.count for e in kernels) / 2
        busy_ms = sum(e.self_device_time_total for e in kernels) / 2 / 1000
        lines.append(f"per step: {launches:.0f} kernels, {busy_ms:.1f} ms of device time")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", help="model size preset (small, paper)")
    parser.add_argument(
        "--attention", default="standard", help="standard, hierarchical, sparsemax, hard"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--size", default="64x320", help="bucket HxW after downsampling")
    parser.add_argument("--tokens", type=int, default=MEDIAN_TOKENS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--fp32", action="store_true", help="no bfloat16 autocast")
    parser.add_argument(
        "--cudnn-benchmark", action="store_true", help="let cuDNN autotune every new shape"
    )
    parser.add_argument("--profile", action="store_true", help="operator table per batch size")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device = torch.device(args.device)
    height, width = map(int, args.size.split("x"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"torch {torch.__version__} on {name}, {args.threads} threads, {args.preset} preset, "
        f"{args.attention} attention, {args.size}, {args.tokens} tokens, "
        f"{'fp32' if args.fp32 else 'bf16 autocast'}, cudnn.benchmark {args.cudnn_benchmark}, "
        f"median of {args.repeats}"
    )
    torch.manual_seed(0)
    model = build_model(preset(args.preset, attention=args.attention), VOCAB_SIZE).to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    print("\n| batch | first step (s) | forward (ms) | backward (ms) | optimizer (ms) | images/s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.batch:
        batch = {k: v.to(device) for k, v in make_batch(size, height, width, args.tokens).items()}
        step = make_step(model, optimizer, batch, device, not args.fp32)
        first = sum(step())
        forward, backward, update = phase_times(step, args.repeats)
        total = forward + backward + update
        print(
            f"| {size} | {first:.2f} | {forward * 1e3:.0f} | {backward * 1e3:.0f} "
            f"| {update * 1e3:.0f} | {size / total:.1f} |",
            flush=True,
        )
        if args.profile:
            print(f"\nbatch {size}:\n{profile_step(step, device)}\n")


if __name__ == "__main__":
    main()
