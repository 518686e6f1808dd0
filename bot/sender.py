"""Delivers committed replies (outbox items) to Telegram, at least once, in order per user.

429 and network errors or timeouts: retried by the one policy (bot/retry.py), then left in the outbox
for the flusher.
403 (blocked): the user is marked inactive and their items dropped; others are unaffected.
400: a reply Telegram refuses will never pass; logged (ids only) and dropped.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.periodic import every
from bot.recent import RecentSet
from bot.render import Outgoing, OutgoingMessage, RenderError, render_reply
from bot.retry import RetryPolicy, call_with_retry
from neuroseq_core.domain.events import Reply
from neuroseq_core.store.base import OutboxItem, Store
from neuroseq_core.store.locks import KeyedLock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # outbox attempts across flushes before an item is given up
_DONE_MEMORY = 10_000  # ids of recently delivered items, so a racing flusher never sends twice


class Undeliverable(Exception):
    """This item can never be delivered (blocked user, refused payload): drop it."""


class Sender:
    """Sends outbox items; shared by the update handlers and the background flusher."""

    def __init__(
        self,
        bot: Bot,
        store: Store,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        flush_interval: float = 5.0,
    ) -> None:
        self.bot = bot
        self.store = store
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self.flush_interval = flush_interval
        self._user_locks = KeyedLock()
        self._in_flight: set[int] = set()
        self._done = RecentSet(_DONE_MEMORY)
        self._parts_sent: dict[int, int] = {}  # item id -> parts already delivered (photo, text...)

    # ---- one item ------------------------------------------------------------------------

    async def _call(self, chat_id: str, part: Outgoing) -> None:
        if isinstance(part, OutgoingMessage):
            await self.bot.send_message(
                chat_id=chat_id, text=part.text, parse_mode=ParseMode.HTML, reply_markup=part.keyboard
            )
        else:
            await self.bot.send_photo(
                chat_id=chat_id, photo=part.png, caption=part.caption or None, parse_mode=ParseMode.HTML
            )

    async def _send_part(self, chat_id: str, part: Outgoing, item_id: int) -> None:
        """One API call by the retry policy; raises Undeliverable, or NetworkError when retries ran out."""
        try:
            await call_with_retry(
                lambda: self._call(chat_id, part), self.policy, context={"outbox_id": item_id}
            )
        except Forbidden as exc:
            raise Undeliverable("forbidden") from exc
        except BadRequest as exc:
            # Telegram's description may quote our text: log the class only.
            raise Undeliverable("bad request") from exc

    def _claim(self, item_id: int) -> bool:
        if item_id in self._in_flight or item_id in self._done:
            return False
        self._in_flight.add(item_id)
        return True

    def _finish(self, item_id: int, delivered: bool) -> None:
        self._in_flight.discard(item_id)
        if delivered:
            self._parts_sent.pop(item_id, None)
            self._done.add(item_id)

    async def _deliver_claimed(self, item: OutboxItem) -> str:
        """Send one claimed item; returns "sent", "dropped" or "failed"."""
        try:
            parts = render_reply(item.reply)
        except RenderError:
            log.error("reply cannot be rendered; dropped", extra={"outbox_id": item.id})
            await self.store.mark_sent(item.id)
            return "dropped"
        done = self._parts_sent.get(item.id, 0)
        try:
            for index in range(done, len(parts)):
                await self._send_part(item.chat_id, parts[index], item.id)
                # Remember progress so a retry does not repeat the picture already shown.
                self._parts_sent[item.id] = index + 1
        except Undeliverable as exc:
            reason = str(exc)
            if reason == "forbidden":
                log.info("user blocked the bot; marked inactive", extra={"outbox_id": item.id})
                await self.store.set_active(item.user_id, False)
            else:
                log.error("Telegram refused a reply (400); dropped", extra={"outbox_id": item.id})
            await self.store.mark_sent(item.id)
            return "dropped"
        except (NetworkError, TelegramError) as exc:
            log.warning(
                "delivery failed; left for the flusher",
                extra={"outbox_id": item.id, "error": type(exc).__name__},
            )
            await self.store.mark_failed(item.id)
            return "failed"
        await self.store.mark_sent(item.id)
        return "sent"

    # ---- public --------------------------------------------------------------------------

    async def deliver(self, items: list[OutboxItem]) -> list[str]:
        """Send items in order (each user's in order); an item whose predecessor failed waits too."""
        results: list[str] = []
        blocked_users: set[str] = set()
        stalled_users: set[str] = set()
        for item in items:
            if item.user_id in blocked_users:
                await self.store.mark_sent(item.id)
                results.append("dropped")
                continue
            if item.user_id in stalled_users:
                # Keep this user's order: a later reply must not overtake a failed earlier one.
                results.append("failed")
                continue
            async with self._user_locks.hold(item.user_id):
                if not self._claim(item.id):
                    if item.id in self._in_flight:
                        # Someone else is sending it now: this user's later items must wait.
                        stalled_users.add(item.user_id)
                    results.append("skipped")
                    continue
                outcome = "failed"
                try:
                    outcome = await self._deliver_claimed(item)
                finally:
                    self._finish(item.id, outcome in ("sent", "dropped"))
            if outcome == "dropped" and not await self.store.is_active(item.user_id):
                blocked_users.add(item.user_id)
            if outcome == "failed":
                stalled_users.add(item.user_id)
            results.append(outcome)
        return results

    async def send_now(self, chat_id: str, reply: Reply) -> bool:
        """Best-effort send of a reply that is not in the outbox (group notices, apologies)."""
        try:
            for part in render_reply(reply):
                await self._call(chat_id, part)
        except (TelegramError, RenderError) as exc:
            log.warning("direct send failed", extra={"error": type(exc).__name__})
            return False
        return True

    async def flush_pending(self, limit: int = 100) -> int:
        """Send what the outbox still holds (after a crash, or after failures); returns how many sent."""
        items = await self.store.pending_outbox(limit)
        sendable: list[OutboxItem] = []
        busy_users: set[str] = set()
        active: dict[str, bool] = {}
        for item in items:
            if item.id in self._done:
                continue  # sent just now; `deliver` would skip it too
            if item.user_id in busy_users or item.id in self._in_flight:
                # Being sent by an update's handler: `deliver` would skip it and hold back the
                # user's later items anyway. Skipping here spares a store read per item, which
                # under load was most of the flusher's cost (bench/bench_e2e.py profile).
                busy_users.add(item.user_id)
                continue
            if item.attempts >= MAX_ATTEMPTS:
                log.error("giving up on a reply after many attempts", extra={"outbox_id": item.id})
                await self.store.mark_sent(item.id)
                continue
            if item.user_id not in active:
                active[item.user_id] = await self.store.is_active(item.user_id)
            if not active[item.user_id]:
                await self.store.mark_sent(item.id)
            else:
                sendable.append(item)
        results = await self.deliver(sendable)
        return results.count("sent")

    async def run_flusher(self, stop: asyncio.Event) -> None:
        """Flush at start and then every flush_interval seconds until stop is set."""
        await every(self.flush_interval, stop, self.flush_pending, "outbox flush")
