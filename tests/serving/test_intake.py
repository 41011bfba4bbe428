"""The screening line in front of the decoding workers: smallest first, bounded, cancellable,
in processes of its own that are replaced when they die."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from im2markup.data.images.user_images import ImageInputError
from im2markup.serving.inputs import screen_image
from im2markup.serving.intake import Intake, IntakeFull, ScreeningCrashed
from im2markup.serving.limits import Limits
from serving_fixtures import text_page_png


async def _occupy(intake: Intake, gate: threading.Event) -> None:
    """Take the only screening slot until `gate` opens."""
    await intake.run(0, gate.wait, 10)


async def _until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def test_the_smallest_waiting_upload_is_screened_first():
    async def scenario() -> list[int]:
        intake, gate, order = Intake(1, 10, processes=False), threading.Event(), []
        busy = asyncio.create_task(_occupy(intake, gate))
        await _until(lambda: intake.running == 1)
        waiting = [
            asyncio.create_task(intake.run(cost, order.append, cost)) for cost in (50, 10, 30)
        ]
        await _until(lambda: intake.waiting == 3)
        gate.set()
        await asyncio.gather(busy, *waiting)
        assert (intake.running, intake.waiting) == (0, 0)
        return order

    assert asyncio.run(scenario()) == [10, 30, 50]


def test_a_full_line_refuses_at_once():
    async def scenario() -> None:
        intake, gate = Intake(1, 1, processes=False), threading.Event()
        busy = asyncio.create_task(_occupy(intake, gate))
        await _until(lambda: intake.running == 1)
        queued = asyncio.create_task(intake.run(5, int, 7))
        await _until(lambda: intake.waiting == 1)
        with pytest.raises(IntakeFull, match="1 uploads wait"):
            await intake.run(1, int, 8)
        gate.set()
        assert await queued == 7
        await busy

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_up_its_place():
    async def scenario() -> None:
        intake, gate = Intake(1, 2, processes=False), threading.Event()
        busy = asyncio.create_task(_occupy(intake, gate))
        await _until(lambda: intake.running == 1)
        dropped = asyncio.create_task(intake.run(1, int, 1))
        kept = asyncio.create_task(intake.run(2, int, 2))
        await _until(lambda: intake.waiting == 2)
        dropped.cancel()
        await _until(lambda: intake.waiting == 1)
        gate.set()
        assert await kept == 2
        await busy
        assert dropped.cancelled()
        assert (intake.running, intake.waiting) == (0, 0)

    asyncio.run(scenario())


@pytest.mark.shared_data
def test_screening_runs_in_another_process_and_survives_its_death(im2latex_dir: Path):
    text_page = text_page_png(im2latex_dir / "formulas" / "test.formulas.norm.txt")

    async def scenario() -> None:
        intake = Intake(1, 4, preload=(screen_image.__module__,))
        try:
            intake.warm_up()
            worker = await intake.run(1, os.getpid)
            assert worker != os.getpid()
            with pytest.raises(ImageInputError, match="more than one formula") as refused:
                await intake.run(len(text_page), screen_image, text_page, Limits())
            assert refused.value.kind == "not_formula"
            with pytest.raises(ScreeningCrashed):
                await intake.run(1, os._exit, 1)
            assert await intake.run(1, os.getpid) not in (worker, os.getpid())
            assert (intake.running, intake.waiting) == (0, 0)
        finally:
            intake.shutdown()

    asyncio.run(scenario())
