"""Sends the check-ins users asked for, from the database, when they come due.

Reminders live in the store, not in python-telegram-bot's in-memory JobQueue, so they survive a
restart and several processes can share them: each due reminder is claimed by one process (on
PostgreSQL with FOR UPDATE SKIP LOCKED), run through the engine, and marked sent in the same
transaction as the reply it queues. A reminder due while the bot was down goes out once at the
next start; a claim whose process died is offered again after the claim timeout and, since
`finish_reminder` only succeeds once, is still never sent twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from bot.pacing import Pacer
from bot.periodic import every
from bot.sender import Sender
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.service.logs import cause_of
from neuroseq_core.store.base import OutboxItem, Reminder, Store

log = logging.getLogger(__name__)

REMINDER_INTERVAL = 30.0  # seconds between looks at the reminders table
BATCH = 50


class ReminderService(Protocol):
    """What the runner needs from neuroseq_core.service.Service."""

    async def handle_reminder(self, reminder: Reminder, now: dt.datetime | None = None) -> list[OutboxItem]:
        """Run a claimed reminder through the engine; the replies to send now."""
        ...


async def send_due(
    store: Store,
    service: ReminderService,
    sender: Sender,
    now: dt.datetime,
    limit: int = BATCH,
    pacer: Pacer | None = None,
) -> int:
    """Claim the reminders due at `now`, run each and deliver its replies (at the whole bot's pace:
    bot/pacing.py); returns how many ran."""
    ran = 0
    for reminder in await store.claim_due_reminders(now, limit):
        try:
            items = await service.handle_reminder(reminder, now)
        except Exception as exc:  # left claimed: offered again after the claim timeout
            log.error("reminder failed", extra={"reminder_id": reminder.id, "error": cause_of(exc)})
            continue
        ran += 1
        await sender.deliver(items, pacer)  # what fails to send stays in the outbox for the flusher
    return ran


async def run_reminders(
    store: Store,
    service: ReminderService,
    sender: Sender,
    stop: asyncio.Event,
    *,
    interval: float = REMINDER_INTERVAL,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """At start and then every `interval` seconds, send what has come due, until stop is set."""
    pacer = Pacer(store)

    async def once() -> None:
        while await send_due(store, service, sender, clock(), pacer=pacer) >= BATCH:
            pass  # a full batch: there may be more due right now

    await every(interval, stop, once, "reminder run")
