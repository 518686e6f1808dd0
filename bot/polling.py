"""Polling mode: our own getUpdates loop, confirming an update only after its transaction committed.

Each chat has its own queue and worker: a chat's updates run in order, chats run side by side, and the
next getUpdates is never held until the slowest chat finishes. Telegram confirms every update below
the offset we ask with, so the offset only moves past updates that are finished: while one is still
running it comes back in later batches and is skipped (it is known by its id). A redelivered update
is harmless anyway: the service dedupes by update id.

A failing update (a full disk, a lock, the database gone for a moment) is tried again in place, its
chat waiting behind it, with growing pauses for up to RETRY_WINDOW seconds; only then is it given up
(the user has had the apology), so one bad update cannot stall its chat for ever.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import warnings
from typing import Any

from telegram import Update
from telegram.error import Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.app import ALLOWED_UPDATES, Adapter
from bot.recent import RecentSet
from bot.retry import retry_after_seconds
from bot.runtime import run_until_stopped, running
from neuroseq_core.service.logs import cause_of
from neuroseq_core.service.settings import Settings

log = logging.getLogger(__name__)
# We call getUpdates through do_api_request on purpose, for its JSON (see Poller.take); PTB suggests
# Bot.get_updates, which parses every update, also the ones still running that come back each time.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

LONG_POLL = 30  # seconds Telegram holds getUpdates open
RETRY_WINDOW = 30.0  # seconds a failing update is retried before it is given up
IDLE_REPOLL = 0.05  # with updates still running, ask again after this at the latest
# With updates still running, the next getUpdates waits until this share of them has finished (or
# IDLE_REPOLL): every getUpdates brings back each one still running, so asking again at once for one
# new press meant downloading and decoding all the others again. With 40 chats at once that was 17 KB
# of JSON per update and 8.6 % of the bot's CPU in JSON decoding alone (bench_e2e, py-spy). A half
# measured better than a quarter (bot CPU 16.8-19.4 against 17.9-19.1 ms per update; p99 lower too).
REPOLL_SHARE = 0.5
READ_MARGIN = 10.0  # seconds beyond the long poll before getUpdates counts as timed out
_DONE_MEMORY = 10_000


def _chat_key(update: Update) -> str:
    if update.effective_chat is not None:
        return f"c{update.effective_chat.id}"
    if update.effective_user is not None:
        return f"u{update.effective_user.id}"
    return f"x{update.update_id}"


class Poller:
    """getUpdates → a queue per chat → confirm what finished, until stopped."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        adapter: Adapter,
        *,
        long_poll: int = LONG_POLL,
        retry_delay: float = 1.0,
        max_backoff: float = 30.0,
        retry_window: float = RETRY_WINDOW,
    ) -> None:
        self.application = application
        self.adapter = adapter
        self.long_poll = long_poll
        self.retry_delay = retry_delay
        self.max_backoff = max_backoff
        self.retry_window = retry_window
        self.offset: int | None = None
        self._queues: dict[str, collections.deque[Update]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._open: set[int] = set()  # taken, not yet finished: the offset stays at or below them
        self._newest: int | None = None
        self._done = RecentSet(_DONE_MEMORY)
        self._progress = asyncio.Event()
        self._finished = 0  # updates finished since the last getUpdates
        self._enough = 1  # how many finished are worth asking again for (set before each wait)
        self._stop = asyncio.Event()

    # ---- the chats ---------------------------------------------------------------------------

    def take(self, updates: list[dict[str, Any]]) -> int:
        """Queue each new update on its chat (starting the chat's worker); returns how many were new.

        Updates arrive as JSON and only new ones are parsed: while one is still running every
        getUpdates brings it back, and parsing it again each time cost more than the update itself."""
        new = 0
        for data in updates:
            uid = data.get("update_id")
            if not isinstance(uid, int):
                continue
            self._newest = uid if self._newest is None else max(self._newest, uid)
            if uid in self._done or uid in self._open:
                continue  # finished, or still running: it came back because it is not confirmed yet
            try:
                update = Update.de_json(data, self.application.bot)
            except Exception as exc:  # unreadable: confirmed and dropped, or it would come back for ever
                log.warning(
                    "unreadable update dropped", extra={"update_id": uid, "error": type(exc).__name__}
                )
                self._done.add(uid)
                continue
            self._open.add(uid)
            new += 1
            key = _chat_key(update)
            self._queues.setdefault(key, collections.deque()).append(update)
            if key not in self._workers:
                self._workers[key] = asyncio.create_task(self._run_chat(key))
        return new

    async def _run_chat(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update = queue[0]
                try:
                    if not await self._handle(update):
                        return  # stopping: this one and the rest stay unconfirmed for the next start
                except Exception as exc:  # never leave an update open for ever (the offset would stick)
                    log.error(
                        "update handling crashed; given up",
                        extra={"update_id": update.update_id, "error": cause_of(exc)},
                    )
                queue.popleft()
                self._open.discard(update.update_id)
                self._done.add(update.update_id)
                self._finished += 1
                if not self._open or self._finished >= self._enough:
                    self._progress.set()  # enough done to ask again (all done: back to the long poll)
        finally:
            # No await between the last look at the queue and here: nothing can be added unseen.
            del self._workers[key]
            if not queue:
                del self._queues[key]

    async def _handle(self, update: Update) -> bool:
        """Run one update, retrying it in place for up to retry_window; False if stopped first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_window
        delay = self.retry_delay
        while True:
            if await self.adapter.process(self.application, update):
                return True
            if loop.time() + delay > deadline:
                log.error("giving up on an update after retries", extra={"update_id": update.update_id})
                return True
            log.warning("update failed; retrying", extra={"update_id": update.update_id, "in_s": delay})
            await _sleep_or_stop(self._stop, delay)
            if self._stop.is_set():
                return False
            delay = min(delay * 2, self.max_backoff)

    def confirm_point(self) -> int | None:
        """The offset to ask with: the oldest update still running, or past the newest seen."""
        if self._open:
            return min(self._open)
        return None if self._newest is None else self._newest + 1

    # ---- the loop ----------------------------------------------------------------------------

    async def _fetch(self, stop: asyncio.Event, hold: int) -> list[dict[str, Any]] | None:
        """One getUpdates, as JSON; None when stopped while waiting."""
        kwargs: dict[str, Any] = {"timeout": hold, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            kwargs["offset"] = self.offset
        fetch = asyncio.ensure_future(
            self.application.bot.do_api_request(
                "getUpdates", api_kwargs=kwargs, read_timeout=hold + READ_MARGIN
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
        result = fetch.result()
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []

    async def _wait_for_progress(self) -> None:
        """With updates still running: until a share of them has finished since the last getUpdates
        (each one finished is usually someone about to press again) or all have, at most IDLE_REPOLL.
        Telegram would hand back every running one at once, each time."""
        self._enough = max(1, int(len(self._open) * REPOLL_SHARE))
        if self._finished >= self._enough:
            return
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), IDLE_REPOLL)

    async def run(self, stop: asyncio.Event) -> int:
        """Poll until stop is set; 0 on a clean stop, 1 when Telegram rejects the token."""
        self._stop = stop
        backoff = self.retry_delay
        try:
            while not stop.is_set():
                self.offset = self.confirm_point()
                self._finished = 0
                try:
                    # Updates still running come back at once (unconfirmed): no long poll then.
                    updates = await self._fetch(stop, 0 if self._open else self.long_poll)
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
                self.take(updates)
                if self._open:
                    await self._wait_for_progress()
        finally:
            await self._finish_running()
        await self._confirm()
        return 0

    async def _finish_running(self, grace: float = 10.0) -> None:
        """At stop: let the chats finish what they are doing (what is left stays unconfirmed)."""
        if self._workers:
            await asyncio.wait(list(self._workers.values()), timeout=grace)
        for task in list(self._workers.values()):
            task.cancel()
        self.offset = self.confirm_point()

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
    retry_window = options.pop("retry_window", RETRY_WINDOW)
    async with running(settings, **options) as rt:
        await rt.application.bot.delete_webhook()
        poller = Poller(
            rt.application,
            rt.adapter,
            long_poll=long_poll,
            retry_delay=retry_delay,
            retry_window=retry_window,
        )
        return await poller.run(stop)


def run_polling(settings: Settings) -> int:
    """Run the bot with long polling until SIGINT/SIGTERM; returns the exit code."""
    return run_until_stopped(serve_polling, settings)
