"""Data-parallel plumbing: process-group set-up from `torchrun`, small collectives, and the
batch sampler wrapper that hands each rank its share of every global batch.

One process per device: `gloo` on CPUs, `nccl` on GPUs. Every rank walks the same sequence of
global batches (the bucketed sampler is deterministic given seed and epoch) and keeps every
`world_size`-th sample of each, so ranks always agree on how many steps an epoch has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group described by torchrun's environment, or run alone.

    `device` is "auto" (CUDA when present), "cpu" or "cuda".
    """
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but PyTorch sees no CUDA device")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=torch.device("cuda" if use_cuda else "cpu"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # Validation runs on rank 0 alone while the others wait, hence the long timeout.
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(hours=2))
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sum of `values` over all ranks (a no-op alone)."""
    if not ctx.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def broadcast(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's `obj`, in rank order, on rank 0 (an empty list elsewhere)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size if ctx.is_main else []
    dist.gather_object(obj, out if ctx.is_main else None, dst=0)
    return out


class ShardedBatches(Sampler[list[Any]]):
    """This rank's part of each global batch of a deterministic batch sampler.

    Every rank runs the same sampler (same seed, same position), so each sees the same global
    batches and keeps every `world_size`-th sample of each. Positions and epochs stay with the
    wrapped sampler, whose `state_dict` is what a checkpoint records.
    """

    def __init__(self, batches: Sampler[list[Any]], rank: int = 0, world_size: int = 1):
        self.batches = batches
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[list[Any]]:
        for batch in self.batches:
            batch = list(batch)
            share = batch[self.rank :: self.world_size]
            # A global batch smaller than the world still gives every rank one sample, so
            # that all ranks take the same number of steps.
            yield share or [batch[self.rank % len(batch)]]
