"""The in-memory store's tables: one dataclass per row kind, and the whole state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from neuroseq_core.domain.events import Reply
from neuroseq_core.store.base import OutboxItem


@dataclass
class UserRow:
    """A user we hold something about."""

    active: bool
    created_at: dt.datetime
    last_seen_at: dt.datetime


@dataclass
class OutboxRow:
    """A reply waiting to be sent, and who holds it."""

    user_id: str
    chat_id: str
    payload: str
    attempts: int
    created_at: dt.datetime
    claimed_by: str | None = None
    lease_until: dt.datetime | None = None
    parts_done: int = 0

    def item(self, item_id: int) -> OutboxItem:
        """The row as the sender sees it."""
        reply = Reply.model_validate_json(self.payload)
        return OutboxItem(
            item_id, self.user_id, self.chat_id, reply, self.attempts, self.lease_until, self.parts_done
        )


@dataclass
class ReminderRow:
    """A reminder, claimed and then sent."""

    user_id: str
    chat_id: str
    due_at: dt.datetime
    kind: str
    claimed_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None


@dataclass
class State:
    """Every table of the in-memory store."""

    users: dict[str, UserRow] = field(default_factory=dict)
    sessions: dict[str, tuple[int, str]] = field(default_factory=dict)  # user -> (version, JSON)
    profiles: dict[int, tuple[str, dt.datetime, str]] = field(default_factory=dict)
    processed: dict[int, tuple[str | None, dt.datetime]] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    reminders: dict[int, ReminderRow] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)  # anonymous totals, no user id

    def erase(self, user_id: str) -> None:
        """Remove every row of one user; the update ids they sent stay, without their id."""
        self.users.pop(user_id, None)
        self.sessions.pop(user_id, None)
        for key, (owner, at) in list(self.processed.items()):
            if owner == user_id:
                self.processed[key] = (None, at)
        self.profiles = {k: row for k, row in self.profiles.items() if row[0] != user_id}
        self.outbox = {k: row for k, row in self.outbox.items() if row.user_id != user_id}
        self.reminders = {k: row for k, row in self.reminders.items() if row.user_id != user_id}
