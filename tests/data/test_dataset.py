from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from im2markup.data.dataset import BucketBatchSampler, FormulaDataset, SampleKey, collate
from im2markup.data.images.buckets import bucket_for, bucket_groups
from im2markup.data.images.preprocess import PAPER_BUCKETS
from im2markup.data.shards import ShardReader
from im2markup.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocab
from shard_fixtures import first_val_samples, pack


@pytest.fixture(scope="module")
def split(im2latex_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack(first_val_samples(im2latex_dir, 50), tmp_path_factory.mktemp("packed") / "val")


@pytest.fixture(scope="module")
def dataset(split: Path) -> FormulaDataset:
    reader = ShardReader(split)
    return FormulaDataset(reader, Vocab.build(reader.labels(), min_count=1))


def _random_sizes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(10, 170, n), rng.integers(20, 500, n)


def test_bucket_follows_the_paper_order_and_rounds_up_oversized_images() -> None:
    assert bucket_for(30, 120) == (128, 32)
    assert bucket_for(40, 120) == (128, 64)
    assert bucket_for(30, 130) == (160, 32)
    assert bucket_for(160, 480) == (480, 160)
    assert bucket_for(100, 500) == (512, 128)
    assert bucket_for(161, 20) == (64, 192)


def test_grouping_all_samples_at_once_matches_one_by_one() -> None:
    heights, widths = _random_sizes(2000, seed=3)
    heights[:50] += 200
    groups = bucket_groups(heights, widths)
    assert sorted(i for members in groups.values() for i in members.tolist()) == list(range(2000))
    for bucket, members in groups.items():
        for i in members.tolist():
            assert bucket_for(int(heights[i]), int(widths[i])) == bucket


@pytest.mark.shared_data
def test_batches_hold_the_images_and_labels_of_the_shared_files(split, dataset, im2latex_dir):
    samples = first_val_samples(im2latex_dir, 50)
    sampler = BucketBatchSampler.from_dataset(dataset, batch_size=8, seed=3)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
    seen = []
    for batch in loader:
        images, tgt = batch["images"], batch["tgt"]
        assert images.dtype == torch.uint8 and images.dim() == 4 and images.shape[1] == 1
        assert (images.shape[3], images.shape[2]) in PAPER_BUCKETS or images.shape[3] % 64 == 0
        assert tgt.dtype == torch.long and (tgt[:, 0] == BOS_ID).all()
        for row, sample_id in enumerate(batch["ids"].tolist()):
            nospace = samples[sample_id][1]
            original = dataset.reader.image(sample_id)
            h, w = original.shape
            np.testing.assert_array_equal(images[row, 0, :h, :w].numpy(), original)
            assert (images[row, 0, h:, :] == 255).all() and (images[row, 0, :, w:] == 255).all()
            length = int(batch["tgt_lengths"][row])
            assert tgt[row, length] == EOS_ID and (tgt[row, length + 1 :] == PAD_ID).all()
            assert dataset.vocab.decode(tgt[row].tolist()) == nospace.split()
            seen.append(sample_id)
    assert sorted(seen) == list(range(50))


def test_every_batch_has_one_bucket_and_an_epoch_covers_every_sample_once() -> None:
    heights, widths = _random_sizes(500)
    sampler = BucketBatchSampler(heights, widths, batch_size=16, seed=1)
    expected = len(sampler)
    batches = list(sampler)
    assert len(batches) == expected
    flat = [key.index for batch in batches for key in batch]
    assert sorted(flat) == list(range(500))
    for batch in batches:
        assert len(batch) <= 16 and len({key.bucket for key in batch}) == 1
        for key in batch:
            assert key.bucket == bucket_for(heights[key.index], widths[key.index])


def test_order_is_fixed_by_seed_and_epoch() -> None:
    heights, widths = _random_sizes(300)

    def order(seed: int, epoch: int) -> list[int]:
        sampler = BucketBatchSampler(heights, widths, batch_size=10, seed=seed)
        sampler.set_epoch(epoch)
        return [key.index for batch in sampler for key in batch]

    assert order(0, 2) == order(0, 2)
    assert order(0, 2) != order(0, 3) and order(0, 2) != order(1, 2)
    sampler = BucketBatchSampler(heights, widths, batch_size=10, seed=0)
    first, second = list(sampler), list(sampler)
    assert [k.epoch for b in second for k in b] == [1] * 300
    assert [k.index for b in first for k in b] == order(0, 0)
    assert [k.index for b in second for k in b] == order(0, 1)
    unshuffled = BucketBatchSampler(heights, widths, batch_size=10, shuffle=False)
    indices = [k.index for b in unshuffled for k in b]
    for batch in unshuffled:
        assert [k.index for k in batch] == sorted(k.index for k in batch)
    assert sorted(indices) == list(range(300))


def test_pixel_limit_shrinks_batches_of_large_buckets() -> None:
    heights, widths = _random_sizes(400)
    sampler = BucketBatchSampler(heights, widths, batch_size=64, max_pixels=64 * 128 * 32)
    for batch in sampler:
        w, h = batch[0].bucket
        assert len(batch) <= max(1, 64 * 128 * 32 // (w * h))
        assert len(batch) * w * h <= 64 * 128 * 32 or len(batch) == 1
    big = [b for b in sampler if b[0].bucket == (480, 160)]
    assert big and max(len(b) for b in big) == 64 * 128 * 32 // (480 * 160)


def test_resume_continues_exactly_where_the_run_stopped() -> None:
    heights, widths = _random_sizes(400)
    reference = BucketBatchSampler(heights, widths, batch_size=8, seed=5)
    reference.set_epoch(2)
    full = list(reference)
    interrupted = BucketBatchSampler(heights, widths, batch_size=8, seed=5)
    interrupted.set_epoch(2)
    iterator = iter(interrupted)
    consumed = [next(iterator) for _ in range(7)]
    state = interrupted.state_dict()
    assert state["epoch"] == 2 and state["batches_done"] == 7
    resumed = BucketBatchSampler(heights, widths, batch_size=8, seed=0)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    assert len(resumed) == len(full) - 7
    assert consumed + list(resumed) == full
    after = list(resumed)
    assert after[0][0].epoch == 3


def test_resume_with_a_prefetching_loader_uses_the_consumed_count() -> None:
    heights, widths = _random_sizes(200)
    sampler = BucketBatchSampler(heights, widths, batch_size=4, seed=2)
    iterator = iter(sampler)
    for _ in range(10):
        next(iterator)
    state = sampler.state_dict(batches_done=6)
    resumed = BucketBatchSampler(heights, widths, batch_size=4, seed=2)
    resumed.load_state_dict(state)
    reference = list(BucketBatchSampler(heights, widths, batch_size=4, seed=2))
    assert list(resumed) == reference[6:]
    with pytest.raises(ValueError, match="samples"):
        BucketBatchSampler(heights[:10], widths[:10], batch_size=4).load_state_dict(state)


def test_ranks_get_disjoint_batches_of_equal_count() -> None:
    heights, widths = _random_sizes(333)
    ranks = [
        list(BucketBatchSampler(heights, widths, batch_size=8, seed=9, rank=r, world_size=3))
        for r in range(3)
    ]
    assert len({len(batches) for batches in ranks}) == 1
    sets = [{k.index for b in batches for k in b} for batches in ranks]
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2]) and not (sets[0] & sets[2])
    assert sum(map(len, sets)) >= 333 - 3 * 8 * 3


@pytest.mark.shared_data
def test_planned_scales_reach_the_transform_and_the_batch_keeps_one_size(dataset) -> None:
    calls = []

    def scale_by_plan(image, rng, scale, bucket):
        calls.append((scale, bucket))
        h, w = image.shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return np.asarray(Image.fromarray(image).resize(size))

    augmented = FormulaDataset(dataset.reader, dataset.vocab, transform=scale_by_plan)
    sampler = BucketBatchSampler.from_dataset(
        augmented, batch_size=6, seed=4, scale_range=(0.6, 2.0), scale_prob=1.0
    )
    scales = []
    for keys in sampler:
        batch = collate([augmented[key] for key in keys])
        assert (batch["images"].shape[3], batch["images"].shape[2]) == keys[0].bucket
        for key in keys:
            h = round(int(dataset.heights[key.index]) * key.scale)
            w = round(int(dataset.widths[key.index]) * key.scale)
            assert key.bucket == bucket_for(h, w)
            scales.append(key.scale)
    assert len(calls) == 50 and min(scales) < 0.9 and max(scales) > 1.2
    assert all(0.6 <= s <= 2.0 for s in scales)


@pytest.mark.shared_data
def test_transform_output_is_shrunk_into_its_bucket(dataset) -> None:
    ds = FormulaDataset(dataset.reader, dataset.vocab, transform=lambda im, *_: np.tile(im, 3))
    item = ds[SampleKey(0, (128, 32))]
    assert item["image"].shape[0] <= 32 and item["image"].shape[1] <= 128


@pytest.mark.shared_data
def test_worker_processes_read_the_same_batches(dataset) -> None:
    def batches(workers: int) -> list[dict]:
        sampler = BucketBatchSampler.from_dataset(dataset, batch_size=8, seed=7)
        loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
        return list(loader)

    for single, parallel in zip(batches(0), batches(2), strict=True):
        for name in ("images", "tgt", "tgt_lengths", "ids"):
            assert torch.equal(single[name], parallel[name])
