"""Proactive sends are paced for the whole bot: 1,000 check-ins due at once, two processes on one
database, a controllable clock. Never more than 25 sends in any one-second window, each check-in sent
exactly once, and nothing held up longer than the pace needs."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from bot.pacing import PROACTIVE_PER_SECOND, Pacer
from bot.reminders import send_due
from bot.sender import Sender
from driver import NOW, Driver
from neuroseq_core.content import ContentHolder
from neuroseq_core.service import Service
from neuroseq_core.store.open import open_store

USERS = 1000


class VirtualClock:
    """The one clock both processes read; sleeping moves it (nothing really waits)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # No await inside: the send that follows is made at exactly this time.
        self.now = max(self.now, self.now + dt.timedelta(seconds=seconds))


class RecordingBot:
    """Stands in for telegram.Bot: records each message with the clock's time."""

    def __init__(self, clock: VirtualClock, log: list[tuple[float, str, int]], worker: int) -> None:
        self.clock, self.log, self.worker = clock, log, worker

    async def send_message(self, chat_id: str, **_: Any) -> None:
        self.log.append((self.clock().timestamp(), str(chat_id), self.worker))
        await asyncio.sleep(0)  # a real call yields to the other process

    async def send_photo(self, chat_id: str, **_: Any) -> None:
        await self.send_message(chat_id)


async def test_a_thousand_checkins_over_two_processes_keep_the_bots_pace(content, tmp_path: Path) -> None:
    # One user's session at the results with a check-in chosen, copied to 1,000 caregivers.
    d = Driver(content)
    d.onboard_caregiver()
    d.answer_all()
    d.press_id("checkin")
    d.press_id("1")
    template = d.session
    clock = VirtualClock(NOW + dt.timedelta(days=1, hours=1))
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    stores = [await open_store(url, clock=clock), await open_store(url, clock=clock)]
    for i in range(USERS):
        uid = f"{700_000 + i}"
        async with stores[0].transaction(uid) as tx:
            await tx.save_session(template.model_copy(update={"user_id": uid}))
            await tx.add_reminder(uid, NOW + dt.timedelta(days=1), "checkin")
    sent: list[tuple[float, str, int]] = []
    workers = []
    for n, store in enumerate(stores):
        service = Service(store, ContentHolder(content))
        sender = Sender(RecordingBot(clock, sent, n), store)  # type: ignore[arg-type]
        workers.append((store, service, sender, Pacer(store, sleep=clock.sleep)))

    async def work(store, service, sender, pacer) -> None:
        while await send_due(store, service, sender, clock(), pacer=pacer):
            pass

    start = clock().timestamp()
    await asyncio.gather(*(work(*w) for w in workers))
    for store in stores:
        await store.close()

    # Each caregiver got their check-in exactly once, and both processes took part.
    chats = [chat for _, chat, _ in sent]
    assert sorted(chats) == sorted(f"{700_000 + i}" for i in range(USERS))
    assert {w for _, _, w in sent} == {0, 1}
    # Never more than 25 in any one second (every window that starts at a send).
    times = sorted(t for t, _, _ in sent)
    busiest, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    assert busiest <= PROACTIVE_PER_SECOND, busiest
    # Spread evenly, not trickled: the last one went about when the pace says it should.
    span = times[-1] - start
    assert USERS / PROACTIVE_PER_SECOND * 0.9 <= span <= USERS / 20, span
