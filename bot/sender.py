"""Delivers committed replies (outbox items) to Telegram, at least once, in order per user.

A process sends only the outbox rows it claimed in the database: the replies its own handlers queued
(claimed as they are stored), and, in the flusher, rows nobody holds (failed earlier, or left by a
process that died, once its lease ran out). No call is started that could end after the lease, so
two processes never send one reply.

429 and network errors or timeouts: retried by the one policy (bot/retry.py), then left in the outbox
for the flusher.
403 (blocked): the user is marked inactive and their items dropped; others are unaffected.
400: a reply Telegram refuses will never pass; logged (ids only) and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

from bot.pacing import Pacer
from bot.periodic import every
from bot.render import Outgoing, OutgoingEdit, OutgoingMessage, RenderError, render_reply
from bot.retry import OutOfTime, RetriesExhausted, RetryPolicy, call_with_retry
from neuroseq_core.domain.events import Reply
from neuroseq_core.service.logs import cause_of
from neuroseq_core.store.base import OutboxItem, Store
from neuroseq_core.store.locks import KeyedLock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # outbox attempts across flushes before an item is given up
MARK_SENT_ATTEMPTS = 5  # about 3 s of store trouble after a delivery before we give up marking it
MARK_MARGIN = 5.0  # seconds of lease kept after a call for marking it sent
NOT_MODIFIED = "message is not modified"  # Bot API's 400 for an edit that changes nothing


def _why(exc: Exception) -> str:
    """Why a call failed, in words we wrote (Telegram's own description may quote the message)."""
    if isinstance(exc, RetriesExhausted):
        cause = exc.__cause__
        return f"{exc} after retries ({type(cause).__name__})" if cause is not None else str(exc)
    return type(exc).__name__


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
        call_time: float = 15.0,
    ) -> None:
        self.bot = bot
        self.store = store
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self.flush_interval = flush_interval
        # The longest one API call may take, all phases together (PTB's timeouts are per phase, so a
        # call is cut off here), plus a margin to mark it sent: no call starts that could end after
        # the item's lease, when another process may take the row over.
        self.call_time = call_time
        self._user_locks = KeyedLock()

    # ---- one item ------------------------------------------------------------------------

    async def _call(self, chat_id: str, part: Outgoing) -> None:
        try:
            async with asyncio.timeout(self.call_time):
                await self._request(chat_id, part)
        except TimeoutError:
            raise TimedOut("the call took longer than its budget") from None

    async def _request(self, chat_id: str, part: Outgoing) -> None:
        if isinstance(part, OutgoingMessage):
            await self.bot.send_message(
                chat_id=chat_id, text=part.text, parse_mode=ParseMode.HTML, reply_markup=part.keyboard
            )
        elif isinstance(part, OutgoingEdit):
            try:
                await self.bot.edit_message_text(
                    chat_id=chat_id,
                    message_id=part.message_id,
                    text=part.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=part.keyboard,
                )
            except BadRequest as exc:
                if NOT_MODIFIED in exc.message.lower():
                    return  # shown already: this is a second delivery of an edit that went through
                # Gone or too old to edit: the question still reaches them, as a new message, and
                # the old one loses its buttons if it is still there (a press on it would be stale).
                await self.bot.send_message(
                    chat_id=chat_id, text=part.text, parse_mode=ParseMode.HTML, reply_markup=part.keyboard
                )
                with contextlib.suppress(TelegramError):
                    await self.bot.edit_message_reply_markup(
                        chat_id=chat_id, message_id=part.message_id, reply_markup=None
                    )
        else:
            await self.bot.send_photo(
                chat_id=chat_id, photo=part.png, caption=part.caption or None, parse_mode=ParseMode.HTML
            )

    def _deadline(self, item: OutboxItem) -> Callable[[], float]:
        """Seconds left of the item's lease, on the loop's monotonic clock from now on."""
        if item.lease_until is None:
            return lambda: float("inf")
        loop = asyncio.get_running_loop()
        end = loop.time() + (item.lease_until - self.store.clock()).total_seconds()
        return lambda: end - loop.time()

    async def _send_part(self, item: OutboxItem, part: Outgoing, time_left: Callable[[], float]) -> None:
        """One API call by the retry policy; raises Undeliverable, or NetworkError when retries (or the
        item's lease) ran out."""
        try:
            await call_with_retry(
                lambda: self._call(item.chat_id, part),
                self.policy,
                context={"outbox_id": item.id},
                time_left=time_left,
                call_time=self.call_time + MARK_MARGIN,
            )
        except Forbidden as exc:
            raise Undeliverable("forbidden") from exc
        except BadRequest as exc:
            # Telegram's description may quote our text: log the class only.
            raise Undeliverable("bad request") from exc

    async def _deliver_claimed(
        self, item: OutboxItem, time_left: Callable[[], float], pacer: Pacer | None
    ) -> str:
        """Send one claimed item; returns "sent", "dropped" or "failed"."""
        try:
            parts = render_reply(item.reply, self._username() if item.reply.invite else None)
        except RenderError:
            log.error("reply cannot be rendered; dropped", extra={"outbox_id": item.id})
            await self.store.mark_sent(item.id)
            return "dropped"
        done = item.parts_done
        try:
            for index in range(item.parts_done, len(parts)):
                if pacer is not None:
                    await pacer.wait()  # a proactive send: the whole bot's pace
                await self._send_part(item, parts[index], time_left)
                done = index + 1  # kept on failure, so a retry does not repeat the picture shown
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
                extra={"outbox_id": item.id, "error": type(exc).__name__, "cause": _why(exc)},
            )
            # Out of lease before a call even started: not an attempt (20 of those must not drop it).
            await self.store.mark_failed(item.id, done, tried=not isinstance(exc, OutOfTime))
            return "failed"
        await self._mark_delivered(item)
        return "sent"

    def _username(self) -> str | None:
        """The bot's username (known once the Application has started), for invite links."""
        try:
            return str(self.bot.username)
        except (RuntimeError, AttributeError):  # not started yet (or a stand-in bot in tests)
            return None

    async def _mark_delivered(self, item: OutboxItem) -> None:
        """Mark a delivered item sent, trying again through a short store fault: the user has it, so
        a failure here must not turn into an apology (at worst the flusher sends it once more)."""
        for attempt in range(MARK_SENT_ATTEMPTS):
            try:
                await self.store.mark_sent(item.id)
                return
            except Exception as exc:
                if attempt == MARK_SENT_ATTEMPTS - 1:
                    log.error(
                        "delivered, but could not be marked sent",
                        extra={"outbox_id": item.id, "error": cause_of(exc)},
                    )
                    return
                await asyncio.sleep(0.1 * 2**attempt)

    # ---- public --------------------------------------------------------------------------

    async def deliver(self, items: list[OutboxItem], pacer: Pacer | None = None) -> list[str]:
        """Send claimed items in order (each user's in order); an item whose predecessor failed waits
        too (its claim is released for the flusher). With a pacer, each message waits for its slot
        (what the bot sends on its own); without, it goes at once (a reply to the user's update)."""
        # Each lease is read against the store's clock once, as the items arrive, then on the loop's own.
        deadlines = {item.id: self._deadline(item) for item in items}
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
                await self.store.mark_failed(item.id, item.parts_done, tried=False)
                results.append("failed")
                continue
            async with self._user_locks.hold(item.user_id):
                outcome = await self._deliver_claimed(item, deadlines[item.id], pacer)
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
        """Claim and send what the outbox holds that nobody is sending (after a crash, or after
        failures); returns how many were sent."""
        items = await self.store.claim_outbox(limit)
        sendable: list[OutboxItem] = []
        active: dict[str, bool] = {}
        for item in items:
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
