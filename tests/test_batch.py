"""Group commit for mark-sent (store/batch.py): one call alone runs at once; calls arriving meanwhile
go together next; each caller returns only when its own item is done, or hears its batch's error."""

from __future__ import annotations

import asyncio

import pytest

from neuroseq_core.store.batch import Coalescer


class Work:
    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: list[int]) -> None:
        self.batches.append(items)
        await self.release.wait()
        if self.fail_on in items:
            raise OSError("disk full")


async def test_one_call_runs_alone_and_calls_meanwhile_go_together() -> None:
    work = Work()
    batcher = Coalescer(work)
    await batcher.add(1)
    assert work.batches == [[1]]
    work.release.clear()  # the next batch takes a while: callers pile up behind it
    first = asyncio.create_task(batcher.add(2))
    await asyncio.sleep(0)
    others = [asyncio.create_task(batcher.add(n)) for n in (3, 4, 5)]
    await asyncio.sleep(0)
    assert not first.done() and not any(t.done() for t in others)
    work.release.set()
    await asyncio.gather(first, *others)
    assert work.batches == [[1], [2], [3, 4, 5]]


async def test_an_error_reaches_every_caller_of_that_batch_only() -> None:
    work = Work(fail_on=4)
    batcher = Coalescer(work)
    work.release.clear()
    first = asyncio.create_task(batcher.add(2))
    await asyncio.sleep(0)
    failing = [asyncio.create_task(batcher.add(n)) for n in (3, 4)]
    await asyncio.sleep(0)
    work.release.set()
    await first
    for task in failing:
        with pytest.raises(OSError, match="disk full"):
            await task
    await batcher.add(6)  # later batches still run
    assert work.batches[-1] == [6]


async def test_a_cancelled_caller_still_has_its_item_done() -> None:
    work = Work()
    batcher = Coalescer(work)
    work.release.clear()
    task = asyncio.create_task(batcher.add(7))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    work.release.set()
    await batcher.add(8)
    assert [7] in work.batches and work.batches[-1] == [8]


async def test_batches_are_bounded() -> None:
    work = Work()
    batcher = Coalescer(work, limit=3)
    work.release.clear()
    tasks = [asyncio.create_task(batcher.add(n)) for n in range(8)]
    await asyncio.sleep(0)
    work.release.set()
    await asyncio.gather(*tasks)
    assert all(len(b) <= 3 for b in work.batches) and sorted(sum(work.batches, [])) == list(range(8))
