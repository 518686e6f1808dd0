"""Proactive sends (check-ins, progress offers) paced for the whole bot, through the database.

Telegram allows a bot about 30 messages a second in bulk. Replies to a user's own press are not
bulk and go at once; what the bot sends on its own is. Each such send first reserves a slot in the
store's `pace` row: every process shares the row, so together they send at most
PROACTIVE_PER_SECOND a second, spread evenly, however many workers there are.

The slots are 1/24 s apart and a send that wakes more than half a slot late takes a new slot, so any
one-second window holds at most 25 sends even when a process is slow to wake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from neuroseq_core.store.base import Store

PROACTIVE_PER_SECOND = 25  # the promise: never more than this in any one second, across processes
_GAP = 1 / 24  # slots a little wider than 1/25 s, so a send half a slot late keeps the promise
PACE_NAME = "proactive"


class Pacer:
    """Waits for this process's next proactive send slot."""

    def __init__(
        self,
        store: Store,
        *,
        name: str = PACE_NAME,
        gap: float = _GAP,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.name = name
        self.gap = gap
        self.sleep = sleep

    async def wait(self) -> None:
        """Return when one send may go now (at its slot, never more than half a slot late)."""
        while True:
            slot = await self.store.reserve_slot(self.name, self.gap)
            delay = slot - self.store.clock().timestamp()
            if delay > 0:
                await self.sleep(delay)
            if self.store.clock().timestamp() - slot > self.gap / 2:
                continue  # too late for this slot (a busy loop wakes late): take the next one
            return
