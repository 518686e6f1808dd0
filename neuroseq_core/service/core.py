"""Runs one event for one user: load, step, save, queue replies — all in one transaction.

Also the two admin commands, which act on the whole bot rather than on a conversation: /reload
(check the content folder again, swap it in only if it is clean) and /stats (anonymous counters).
They exist only for the Telegram user ids in NEUROSEQ_ADMIN_IDS; anyone else gets the engine's
answer to an unknown command.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from neuroseq_core.content import ContentHolder
from neuroseq_core.content.yamlio import ContentError
from neuroseq_core.domain.clock import as_utc, utcnow
from neuroseq_core.domain.effects import CancelReminders, Count, DeleteUser, Effect, Remind, SaveProfile
from neuroseq_core.domain.events import Command, Due, Event, Reply
from neuroseq_core.domain.session import Session
from neuroseq_core.engine import holds_nothing, new_session, step
from neuroseq_core.service import circle as circles
from neuroseq_core.store.base import OutboxItem, Reminder, StaleSessionError, Store, Transaction

log = logging.getLogger(__name__)
STALE_RETRIES = 3
ADMIN_COMMANDS = ("reload", "stats")
MAX_ERRORS_SHOWN = 15  # a Telegram message holds 4,096 characters; the rest is counted, not listed
RELOADED = "content.reloaded"  # an anonymous counter: each /reload that went live, in any process
SYSTEM = "neuroseq:system"  # the transaction that counts a reload (no user; nothing is stored for it)


def _first(errors: list[ContentError]) -> tuple[list[str], int]:
    """The lines to show in one message, and how many more there are."""
    return [str(e) for e in errors[:MAX_ERRORS_SHOWN]], max(len(errors) - MAX_ERRORS_SHOWN, 0)


class Service:
    """The one entry point adapters call: `handle(user, chat, event, update_id)`."""

    def __init__(self, store: Store, content: ContentHolder, admin_ids: Iterable[int] = ()) -> None:
        self.store = store
        self.content = content
        self.admin_ids = frozenset(str(i) for i in admin_ids)
        self._reload_lock = asyncio.Lock()
        self._reloads_seen: int | None = None

    async def handle(
        self,
        user_id: str,
        chat_id: str,
        event: Event,
        update_id: int | None = None,
        reminder_id: int | None = None,
    ) -> list[OutboxItem]:
        """Handle one event; returns the committed replies to send now ([] for a redelivery).

        The store's row lock serialises a user's updates; the optimistic version check is the
        second guard, and on a conflict the whole step is run again on the fresh session.
        A reminder is marked sent in the same transaction, so it goes out once or not at all.
        """
        admin: list[Reply] | None = None
        if isinstance(event, Command) and event.name in ADMIN_COMMANDS and user_id in self.admin_ids:
            admin = await self._admin(event.name, user_id)
        attempt = 1
        while True:
            try:
                return await self._handle_once(user_id, chat_id, event, update_id, reminder_id, admin)
            except StaleSessionError:
                if attempt >= STALE_RETRIES:
                    raise
                log.warning("session changed underneath; retrying", extra={"attempt": attempt})
                attempt += 1

    async def handle_reminder(self, reminder: Reminder, now: dt.datetime | None = None) -> list[OutboxItem]:
        """Run a claimed reminder through the engine as a Due event (once: see `handle`)."""
        event = Due(what=reminder.kind, now=now or utcnow())
        return await self.handle(reminder.user_id, reminder.chat_id, event, reminder_id=reminder.id)

    def step(
        self, session: Session | None, user_id: str, event: Event
    ) -> tuple[Session, list[Reply], list[Effect]]:
        """The engine's step on this user's session (a new one for a new user)."""
        content = self.content.current
        return step(session or new_session(user_id, content), event, content)

    async def _handle_once(
        self,
        user_id: str,
        chat_id: str,
        event: Event,
        update_id: int | None,
        reminder_id: int | None,
        admin: list[Reply] | None,
    ) -> list[OutboxItem]:
        # A reminder is not the user coming back: it leaves them as seen (the purge) and as blocked.
        async with self.store.transaction(user_id, touch=reminder_id is None) as tx:
            if update_id is not None and await tx.seen(update_id):
                log.info("update already handled", extra={"update_id": update_id})
                return []
            if reminder_id is not None and not await tx.finish_reminder(reminder_id):
                log.info("reminder already sent or cancelled", extra={"reminder_id": reminder_id})
                return []
            if admin is not None:
                replies = admin
            else:
                stored = await tx.load_session()
                event = await circles.with_world(tx, stored, event)
                new, replies, effects = self.step(stored, user_id, event)
                # Someone we hold nothing about stays that way until they start again (an old button
                # after /delete brings no row back).
                keep = stored is not None or not holds_nothing(new)
                await self._apply_effects(tx, new, effects, chat_id, event, keep)
            if update_id is not None:
                await tx.mark_seen(update_id)
            return await tx.add_outbox(chat_id, replies)

    async def _apply_effects(
        self, tx: Transaction, new: Session, effects: list[Effect], chat_id: str, event: Event, keep: bool
    ) -> None:
        """Carry out what the engine asked for, inside the same transaction, then store the session."""
        counts = [e.name for e in effects if isinstance(e, Count)]
        if counts:
            await tx.bump(counts)  # anonymous totals: no user id goes with them
        if any(isinstance(e, DeleteUser) for e in effects):
            await circles.close_for_erasure(
                tx, self.content.current.notice
            )  # an owner's circle closes with them
            await tx.delete_user()
            return
        if any(isinstance(e, CancelReminders) for e in effects):
            await tx.cancel_reminders()
        now = as_utc(event.now)
        for effect in effects:
            if isinstance(effect, Remind):
                await tx.add_reminder(chat_id, now + effect.after, effect.kind)
        saved = any(isinstance(e, SaveProfile) for e in effects)
        if saved and new.profile is not None and new.completed_at is not None:
            await tx.save_profile(new.profile, new.completed_at)
        if keep:
            await tx.save_session(new)
            await circles.apply_effects(tx, new, effects, self.notice)

    # ---- admin ------------------------------------------------------------------------------------

    async def _language_of(self, user_id: str) -> str:
        async with self.store.transaction(user_id) as tx:
            session = await tx.load_session()
        return self.content.current.language(session.language if session else None)

    async def _admin(self, name: str, user_id: str) -> list[Reply]:
        """Run an admin command outside any user's transaction (a reload reads files for a while)."""
        language = await self._language_of(user_id)
        if name == "reload":
            return [await self._reload(language)]
        return [await self._stats(language)]

    async def _reload(self, language: str) -> Reply:
        async with self._reload_lock:  # two admins reloading at once would race to swap
            errors = await asyncio.to_thread(self.content.reload)
        content = self.content.current  # the new content if it went live, else the old one
        problems = [e for e in errors if not e.warning]
        warnings = [e for e in errors if e.warning]
        if problems:
            log.warning("content reload refused", extra={"errors": len(problems)})
            shown, more = _first(problems)
            return content.notice(
                "admin.reload_failed", language, errors=shown, more=more, count=len(problems)
            )
        log.info("content reloaded", extra={"warnings": len(warnings)})
        # Every other process follows (follow_reloads): they read the count, we already have it.
        async with self.store.transaction(SYSTEM) as tx:
            await tx.bump([RELOADED])
        self._reloads_seen = (await self.store.counters()).get(RELOADED, 0)
        shown, more = _first(warnings)
        return content.notice(
            "admin.reload_done",
            language,
            warnings=shown,
            more=more,
            activities=len(content.activities),
            questions=len(content.questions),
        )

    async def _stats(self, language: str) -> Reply:
        counts = await self.store.counters()
        content = self.content.current
        steps = [
            {"name": content.local(s.name, language), "count": counts.get(f"start_step.{s.id}", 0)}
            for s in content.sequence.steps
        ]
        safety = sorted(
            ((k.removeprefix("safety."), v) for k, v in counts.items() if k.startswith("safety.")),
            key=lambda kv: (-kv[1], kv[0]),
        )
        extras = sorted(
            (k, v) for k, v in counts.items() if not k.startswith(("safety.", "start_step.", "conversation."))
        )
        return content.notice(
            "admin.stats",
            language,
            started=counts.get("conversation.started", 0),
            completed=counts.get("conversation.completed", 0),
            steps=steps,
            safety=[{"category": k, "count": v} for k, v in safety],
            other=[{"name": k, "count": v} for k, v in extras],
        )

    async def follow_reloads(self) -> bool:
        """If another process's /reload went live since we last looked, load the folder here too
        (run every few seconds by the adapters); True when this process reloaded."""
        count = (await self.store.counters()).get(RELOADED, 0)
        if self._reloads_seen is None or count == self._reloads_seen:
            self._reloads_seen = count
            return False
        self._reloads_seen = count
        async with self._reload_lock:
            errors = await asyncio.to_thread(self.content.reload)
        problems = sum(1 for e in errors if not e.warning)
        log.info("content reloaded after a /reload elsewhere", extra={"errors": problems})
        return True

    def notice(self, message_id: str, language: str | None = None, **context: Any) -> Reply:
        """A fixed notice from content (e.g. for group chats, or another circle member), without
        touching any session."""
        return self.content.current.notice(message_id, language, **context)
