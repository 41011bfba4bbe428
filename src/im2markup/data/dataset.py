"""Training and evaluation batches from a packed split.

`FormulaDataset` decodes one sample; `BucketBatchSampler` groups samples whose images fall into
the same size bucket, so that every batch is padded to one size and no pixels are wasted;
`collate` pads and stacks them into the batch dict of `docs/architecture.md`.

The sampler yields `SampleKey`s rather than bare indices: each key carries the bucket the image
must fit, the scale the augmentation should apply and the seed of its random draws. The order
of the epoch, the scale draws and every augmentation are therefore a function of
(seed, epoch, position), which is what makes a killed run resume exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from im2markup.data.images.buckets import Bucket, bucket_for, bucket_groups, fit_into
from im2markup.data.images.preprocess import PAPER_BUCKETS
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import PAD_ID, Vocab

Transform = Callable[[np.ndarray, np.random.Generator, float, Bucket], np.ndarray]
"""Load-time augmentation: (image, rng, planned scale, bucket to fit) -> new image."""


class SampleKey(NamedTuple):
    """What the sampler asks the dataset for: one sample, prepared for one bucket."""

    index: int
    bucket: Bucket
    scale: float = 1.0
    seed: int = 0
    epoch: int = 0


class FormulaDataset(Dataset):
    """Images and token ids of a packed split, optionally augmented when loaded."""

    def __init__(
        self,
        split: str | Path | ShardReader,
        vocab: Vocab,
        transform: Transform | None = None,
        buckets: Sequence[Bucket] = PAPER_BUCKETS,
    ):
        self.reader = split if isinstance(split, ShardReader) else ShardReader(split)
        self.vocab = vocab
        self.transform = transform
        self.buckets = tuple(buckets)

    def __len__(self) -> int:
        return len(self.reader)

    @property
    def heights(self) -> np.ndarray:
        return self.reader.heights

    @property
    def widths(self) -> np.ndarray:
        return self.reader.widths

    def __getitem__(self, key: int | SampleKey) -> dict[str, Any]:
        if not isinstance(key, SampleKey):
            i = int(key)
            key = SampleKey(i, bucket_for(int(self.heights[i]), int(self.widths[i]), self.buckets))
        image = self.reader.image(key.index)
        if self.transform is not None:
            rng = np.random.default_rng((key.seed, key.epoch, key.index))
            image = self.transform(image, rng, key.scale, key.bucket)
        return {
            "image": fit_into(image, key.bucket),
            "tokens": torch.tensor(self.vocab.encode(self.reader.label(key.index))),
            "id": key.index,
            "bucket": key.bucket,
        }


def collate(items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad images (white, top-left aligned as in the paper) and token ids into one batch."""
    width = max(max(item["bucket"][0], item["image"].shape[1]) for item in items)
    height = max(max(item["bucket"][1], item["image"].shape[0]) for item in items)
    images = np.full((len(items), 1, height, width), 255, dtype=np.uint8)
    longest = max(len(item["tokens"]) for item in items)
    tgt = torch.full((len(items), longest), PAD_ID, dtype=torch.long)
    for row, item in enumerate(items):
        h, w = item["image"].shape
        images[row, 0, :h, :w] = item["image"]
        tgt[row, : len(item["tokens"])] = item["tokens"]
    return {
        "images": torch.from_numpy(images),
        "tgt": tgt,
        "tgt_lengths": torch.tensor([len(item["tokens"]) - 1 for item in items]),
        "ids": torch.tensor([item["id"] for item in items]),
    }


class BucketBatchSampler(Sampler[list[SampleKey]]):
    """Batches of one bucket each, in an order fixed by (seed, epoch), resumable mid-epoch.

    `batch_size` is the most samples per batch; `max_pixels` further limits a batch to that many
    padded pixels, so large buckets get smaller batches. With `scale_range` each sample is
    planned at a random scale (log-uniform, with probability `scale_prob`) and put into the
    bucket of its scaled size; the augmentation then applies that scale. For DDP each of
    `world_size` ranks takes every `world_size`-th batch and all ranks get the same count.

    The epoch advances when a new iteration starts after a finished one, or by `set_epoch`.
    A DataLoader prefetches, so the sampler runs ahead of training: pass the number of batches
    the loop has consumed to `state_dict` to record the exact position.
    """

    def __init__(
        self,
        heights: Sequence[int] | np.ndarray,
        widths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        buckets: Sequence[Bucket] = PAPER_BUCKETS,
        max_pixels: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        scale_range: tuple[float, float] | None = None,
        scale_prob: float = 0.5,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.heights = np.asarray(heights, dtype=np.int64)
        self.widths = np.asarray(widths, dtype=np.int64)
        if self.heights.shape != self.widths.shape:
            raise ValueError("heights and widths differ in length")
        self.batch_size = batch_size
        self.buckets = tuple(buckets)
        self.max_pixels = max_pixels
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.scale_range = scale_range
        self.scale_prob = scale_prob
        self.epoch = 0
        self._done = 0
        self._cache: tuple[int, list[tuple[Bucket, np.ndarray]], np.ndarray] | None = None

    @classmethod
    def from_dataset(
        cls, dataset: FormulaDataset, batch_size: int, **kwargs: Any
    ) -> BucketBatchSampler:
        """A sampler over `dataset`'s image sizes and buckets."""
        return cls(dataset.heights, dataset.widths, batch_size, buckets=dataset.buckets, **kwargs)

    def _scales(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.heights)
        if self.scale_range is None:
            return np.ones(n)
        low, high = self.scale_range
        drawn = np.exp(rng.uniform(math.log(low), math.log(high), n))
        drawn = np.where(rng.random(n) < self.scale_prob, drawn, 1.0)
        max_w = max(b[0] for b in self.buckets)
        max_h = max(b[1] for b in self.buckets)
        cap = np.minimum(max_w / self.widths, max_h / self.heights)
        return np.minimum(drawn, np.maximum(cap, 1.0))

    def _plan(self, epoch: int) -> list[tuple[Bucket, np.ndarray]]:
        """(bucket, sample indices) of every batch of this rank in `epoch`, computed once."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        rng = np.random.default_rng((self.seed, epoch))
        scales = self._scales(rng)
        planned_h = np.maximum(1, np.rint(self.heights * scales)).astype(np.int64)
        planned_w = np.maximum(1, np.rint(self.widths * scales)).astype(np.int64)
        groups = bucket_groups(planned_h, planned_w, self.buckets)
        batches: list[tuple[Bucket, np.ndarray]] = []
        for bucket in sorted(groups):
            members = np.asarray(groups[bucket])
            if self.shuffle:
                members = rng.permutation(members)
            size = self.batch_size
            if self.max_pixels is not None:
                size = max(1, min(size, self.max_pixels // (bucket[0] * bucket[1])))
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                if not self.drop_last or len(chunk) == size:
                    batches.append((bucket, chunk))
        if self.shuffle:
            batches = [batches[k] for k in rng.permutation(len(batches))]
        if self.world_size > 1:
            usable = len(batches) // self.world_size * self.world_size
            batches = batches[:usable][self.rank :: self.world_size]
        self._cache = (epoch, batches, scales)
        return batches

    def _keys(self, epoch: int, k: int) -> list[SampleKey]:
        bucket, members = self._plan(epoch)[k]
        scales = self._cache[2] if self._cache is not None else np.ones(len(self.heights))
        return [SampleKey(i, bucket, float(scales[i]), self.seed, epoch) for i in members.tolist()]

    def _position(self) -> tuple[int, int]:
        """(epoch, batches done) of the next batch: a finished epoch gives way to the next one."""
        if self._done >= len(self._plan(self.epoch)):
            return self.epoch + 1, 0
        return self.epoch, self._done

    def __iter__(self) -> Iterator[list[SampleKey]]:
        self.epoch, self._done = self._position()
        epoch, count = self.epoch, len(self._plan(self.epoch))
        while self._done < count:
            self._done += 1
            yield self._keys(epoch, self._done - 1)

    def __len__(self) -> int:
        epoch, done = self._position()
        return len(self._plan(epoch)) - done

    def set_epoch(self, epoch: int) -> None:
        """Start `epoch` from its beginning, unless it is the epoch in progress (a resumed run)."""
        if epoch != self.epoch or self._done >= len(self._plan(epoch)):
            self._done = 0
        self.epoch = epoch

    def state_dict(self, batches_done: int | None = None) -> dict[str, int]:
        """Where the sampler stands, after `batches_done` batches of the current epoch.

        Without `batches_done`, the number of batches handed out so far is used, which is exact
        only when nothing prefetches.
        """
        epoch = self.epoch
        done = self._done if batches_done is None else batches_done
        if done >= len(self._plan(epoch)):
            epoch, done = epoch + 1, 0
        return {"seed": self.seed, "epoch": epoch, "batches_done": done, "size": len(self.heights)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["size"] != len(self.heights):
            raise ValueError(
                f"sampler state is for {state['size']} samples, "
                f"this dataset has {len(self.heights)}"
            )
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self._done = int(state["batches_done"])
        self._cache = None
