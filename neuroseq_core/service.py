"""Runs one event for one user: load, step, save, queue replies — all in one transaction."""

from __future__ import annotations

import logging

from neuroseq_core.content import ContentHolder
from neuroseq_core.engine import new_session, step
from neuroseq_core.events import Event, Reply
from neuroseq_core.session import Session
from neuroseq_core.store.base import OutboxItem, Store
from neuroseq_core.store.memory import StaleSessionError

log = logging.getLogger(__name__)
STALE_RETRIES = 3


class Service:
    """The one entry point adapters call: `handle(user, chat, event, update_id)`."""

    def __init__(self, store: Store, content: ContentHolder) -> None:
        self.store = store
        self.content = content

    async def handle(
        self, user_id: str, chat_id: str, event: Event, update_id: int | None = None
    ) -> list[OutboxItem]:
        """Handle one event; returns the committed replies to send now ([] for a redelivery).

        The store's row lock serialises a user's updates; the optimistic version check is the
        second guard, and on a conflict the whole step is run again on the fresh session.
        """
        attempt = 1
        while True:
            try:
                return await self._handle_once(user_id, chat_id, event, update_id)
            except StaleSessionError:
                if attempt >= STALE_RETRIES:
                    raise
                log.warning("session changed underneath; retrying", extra={"attempt": attempt})
                attempt += 1

    def step(self, session: Session | None, user_id: str, event: Event) -> tuple[Session, list[Reply]]:
        """The engine's step on this user's session (a new one for a new user)."""
        content = self.content.current
        return step(session or new_session(user_id, content), event, content)

    async def _handle_once(
        self, user_id: str, chat_id: str, event: Event, update_id: int | None
    ) -> list[OutboxItem]:
        async with self.store.transaction(user_id) as tx:
            if update_id is not None and await tx.seen(update_id):
                log.info("update already handled", extra={"update_id": update_id})
                return []
            new, replies = self.step(await tx.load_session(), user_id, event)
            effects = list(new.effects)
            new = new.model_copy(update={"effects": []})
            if "delete_user" in effects:
                await tx.delete_user()
            else:
                if "save_profile" in effects and new.profile is not None and new.completed_at is not None:
                    await tx.save_profile(new.profile, new.completed_at)
                await tx.save_session(new)
            if update_id is not None:
                await tx.mark_seen(update_id)
            ids = await tx.add_outbox(chat_id, replies)
        return [
            OutboxItem(id=i, user_id=user_id, chat_id=chat_id, reply=r)
            for i, r in zip(ids, replies, strict=True)
        ]

    def notice(self, message_id: str, language: str | None = None) -> Reply:
        """A fixed notice from content (e.g. for group chats), without touching any session."""
        return self.content.current.notice(message_id, language)
