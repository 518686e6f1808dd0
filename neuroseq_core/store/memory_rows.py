"""The in-memory store's tables: one dataclass per row kind, and the whole state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from neuroseq_core.domain.circle import Role
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
class CircleRow:
    owner_id: str
    child: str | None
    age_band: str | None
    created_at: dt.datetime


@dataclass
class MemberRow:
    circle_id: int
    key: str
    role: Role
    label: str
    language: str
    joined_at: dt.datetime
    digest: bool = False
    last_digest_at: dt.datetime | None = None
    view: str | None = None


@dataclass
class InviteRow:
    circle_id: int
    role: Role
    label: str
    expires_at: dt.datetime


@dataclass
class LogRow:
    circle_id: int
    user_id: str
    activity: str
    setting: str
    outcome: str
    logged_at: dt.datetime


@dataclass
class Circles:
    """The circle tables of the in-memory store."""

    circles: dict[int, CircleRow] = field(default_factory=dict)
    members: dict[str, MemberRow] = field(default_factory=dict)  # user id -> membership
    invites: dict[str, InviteRow] = field(default_factory=dict)  # code hash -> open invite
    log: dict[int, LogRow] = field(default_factory=dict)

    def drop_member(self, user_id: str) -> None:
        """A member's membership and tries go (leaving, removed, erased)."""
        member = self.members.pop(user_id, None)
        if member is not None:
            self.log = {k: r for k, r in self.log.items() if r.user_id != user_id}

    def close(self, circle_id: int) -> None:
        """A circle and everything in it goes."""
        self.circles.pop(circle_id, None)
        self.members = {u: m for u, m in self.members.items() if m.circle_id != circle_id}
        self.invites = {h: i for h, i in self.invites.items() if i.circle_id != circle_id}
        self.log = {k: r for k, r in self.log.items() if r.circle_id != circle_id}

    def erase(self, user_id: str) -> None:
        """Everything of one user: their own circle (if they set one up), their membership and tries."""
        for circle_id in [k for k, c in self.circles.items() if c.owner_id == user_id]:
            self.close(circle_id)
        self.drop_member(user_id)

    def owned(self, user_id: str) -> int | None:
        return next((k for k, c in self.circles.items() if c.owner_id == user_id), None)


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
    circles: Circles = field(default_factory=Circles)

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
        self.circles.erase(user_id)
