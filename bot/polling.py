"""Polling mode: our own getUpdates loop, confirming an update only after its transaction committed.

A batch is handled with chats running concurrently and each chat's updates in order; only then is
the next offset asked for. A redelivered update is harmless: the service dedupes by update id, and
this loop also skips ids it already finished. A failing update is retried a few times, then given
up (the user has had the apology), so one bad update cannot stall everyone behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.app import ALLOWED_UPDATES, Adapter
from bot.recent import RecentSet
from bot.retry import retry_after_seconds
from bot.runtime import run_until_stopped, running
from neuroseq_core.service.settings import Settings

log = logging.getLogger(__name__)

LONG_POLL = 30  # seconds Telegram holds getUpdates open
MAX_UPDATE_ATTEMPTS = 3
_DONE_MEMORY = 10_000


def _chat_key(update: Update) -> str:
    if update.effective_chat is not None:
        return f"c{update.effective_chat.id}"
    if update.effective_user is not None:
        return f"u{update.effective_user.id}"
    return f"x{update.update_id}"


class Poller:
    """getUpdates → handle batch → confirm, until stopped."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        adapter: Adapter,
        *,
        long_poll: int = LONG_POLL,
        retry_delay: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.application = application
        self.adapter = adapter
        self.long_poll = long_poll
        self.retry_delay = retry_delay
        self.max_backoff = max_backoff
        self.offset: int | None = None
        self._attempts: dict[int, int] = {}
        self._done = RecentSet(_DONE_MEMORY)

    def _finish(self, update_id: int) -> None:
        self._attempts.pop(update_id, None)
        self._done.add(update_id)

    async def handle_batch(self, updates: list[Update]) -> set[int]:
        """Handle updates (chats concurrently, in order within a chat); returns the ids still open."""
        chats: dict[str, list[Update]] = {}
        for update in updates:
            if update.update_id not in self._done:
                chats.setdefault(_chat_key(update), []).append(update)
        unresolved: set[int] = set()

        async def run_chat(queue: list[Update]) -> None:
            for index, update in enumerate(queue):
                if await self.adapter.process(self.application, update):
                    self._finish(update.update_id)
                    continue
                attempts = self._attempts.get(update.update_id, 0) + 1
                self._attempts[update.update_id] = attempts
                if attempts >= MAX_UPDATE_ATTEMPTS:
                    log.error("giving up on an update", extra={"update_id": update.update_id})
                    self._finish(update.update_id)
                    continue
                # Keep this chat's order: its later updates wait for the failed one.
                unresolved.update(u.update_id for u in queue[index:])
                return

        await asyncio.gather(*(run_chat(queue) for queue in chats.values()))
        return unresolved

    async def _fetch(self, stop: asyncio.Event) -> list[Update] | None:
        """One getUpdates; None when stopped while waiting."""
        fetch = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=self.offset, timeout=self.long_poll, allowed_updates=ALLOWED_UPDATES
            )
        )
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not fetch.done():
            # Cancelled unconfirmed updates are simply delivered again next time.
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            return None
        return list(fetch.result())

    async def run(self, stop: asyncio.Event) -> int:
        """Poll until stop is set; 0 on a clean stop, 1 when Telegram rejects the token."""
        backoff = self.retry_delay
        while not stop.is_set():
            try:
                updates = await self._fetch(stop)
            except (InvalidToken, Forbidden) as exc:
                log.error("Telegram rejected the bot token", extra={"error": type(exc).__name__})
                return 1
            except RetryAfter as exc:
                await _sleep_or_stop(stop, retry_after_seconds(exc))
                continue
            except Conflict:
                log.warning("another instance is polling or a webhook is set; waiting")
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except NetworkError as exc:
                log.warning("getUpdates failed", extra={"error": type(exc).__name__})
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if updates is None:
                break
            backoff = self.retry_delay
            if not updates:
                continue
            unresolved = await self.handle_batch(updates)
            if unresolved:
                self.offset = min(unresolved)
                await _sleep_or_stop(stop, self.retry_delay)
            else:
                self.offset = updates[-1].update_id + 1
        await self._confirm()
        return 0

    async def _confirm(self) -> None:
        """Tell Telegram about the last offset before leaving (what follows it stays unconfirmed)."""
        if self.offset is None:
            return
        with contextlib.suppress(TelegramError, asyncio.TimeoutError):
            await asyncio.wait_for(
                self.application.bot.get_updates(offset=self.offset, timeout=0, limit=1), timeout=5
            )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def serve_polling(settings: Settings, stop: asyncio.Event, **options: Any) -> int:
    """Open everything, delete any webhook, and poll until stop is set."""
    long_poll = options.pop("long_poll", LONG_POLL)
    retry_delay = options.pop("retry_delay", 1.0)
    async with running(settings, **options) as rt:
        await rt.application.bot.delete_webhook()
        poller = Poller(rt.application, rt.adapter, long_poll=long_poll, retry_delay=retry_delay)
        return await poller.run(stop)


def run_polling(settings: Settings) -> int:
    """Run the bot with long polling until SIGINT/SIGTERM; returns the exit code."""
    return run_until_stopped(serve_polling, settings)
