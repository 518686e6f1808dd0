"""Group commit: calls that arrive while one is running are done together in the next one.

For PostgreSQL's mark-sent (one per message sent): the first caller runs at once, alone; callers
arriving during its round trip wait for it to finish and then go as one statement. Each caller still
returns only once its own item is done, so what the sender knows is unchanged: a message is marked
sent once it was sent, and an error reaches every caller in the batch that failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Coalescer:
    """Run `work(items)` for items added meanwhile, one batch at a time, each caller awaiting its own."""

    def __init__(self, work: Callable[[list[int]], Awaitable[None]], limit: int = 500) -> None:
        self._work = work
        self._limit = limit
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None  # kept: the loop holds tasks only weakly

    async def add(self, item: int) -> None:
        """Done once `item` was part of a batch that succeeded; raises that batch's error otherwise."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if not self._running:
            self._running = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(done)  # a caller cancelled leaves its item in the batch

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                try:
                    await self._work([item for item, _ in batch])
                except Exception as exc:  # every caller of this batch hears it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._running = False
