"""The store interface: sessions, profiles, processed update ids, outbox, user status."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from neuroseq_core.domain.circle import CircleView, Departure, Invitation, View
from neuroseq_core.domain.clock import Clock
from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Profile, Session

# A claimed reminder that was never marked sent (the claimer crashed) is offered again after this.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
# How long a process holds the outbox rows it claimed. A sender never starts a call it could not finish
# inside its lease, so a row is taken over only when its process died (or stalled past the lease).
OUTBOX_LEASE = dt.timedelta(seconds=60)


class StaleSessionError(RuntimeError):
    """The stored session changed since this transaction loaded it: re-run the whole update."""

    def __init__(self, user_id: str) -> None:
        super().__init__(f"session of user {user_id!r} was changed by another transaction; retry the update")
        self.user_id = user_id


@dataclass(frozen=True)
class OutboxItem:
    """A reply committed with its session change, waiting to be sent."""

    id: int
    user_id: str
    chat_id: str
    reply: Reply
    attempts: int = 0
    lease_until: dt.datetime | None = None  # this process may send it until then
    parts_done: int = 0  # parts (picture, text) already delivered by an earlier attempt


@dataclass(frozen=True)
class Reminder:
    """A message due at a time, claimed by one sender and then marked sent."""

    id: int
    user_id: str
    chat_id: str
    due_at: dt.datetime
    kind: str


class CircleTx(Protocol):
    """One user's work on the circle they are in (neuroseq_core.store.circle_sql / circle_memory)."""

    async def view(self) -> CircleView | None:
        """The circle this user is in, as they may see it; None when they are in none."""

    async def invitation(self, code: str) -> Invitation:
        """What this invite code opens, if it can still be used (never why not)."""

    async def start(self, label: str, child: str | None, age_band: str | None, language: str) -> None:
        """Set up a circle with this user as its owner."""

    async def invite(self, code: str, role: str, label: str) -> bool:
        """Keep an invite to the circle this user owns; False when they own none."""

    async def join(self, code: str, language: str) -> tuple[str, str] | None:
        """Use the invite up and join its circle; the owner (user id, language) to tell, or None."""

    async def log(self, activity: str, outcome: str) -> None:
        """Add a try to this member's circle log (nothing outside a circle)."""

    async def set_digest(self, on: bool) -> None:
        """The daily note on or off."""

    async def digest_sent(self) -> None:
        """The next daily note counts from now."""

    async def share_view(self, view: View) -> None:
        """What this member's own answers say, for the others."""

    async def leave(self) -> Departure | None:
        """This member leaves (the owner closes instead); whom to tell, and how to name them."""

    async def remove(self, key: str) -> tuple[str, str] | None:
        """The owner removes a member; (their user id, language) to tell them, or None."""

    async def close(self) -> list[tuple[str, str]]:
        """The owner closes their circle; the other members (user id, language) to tell."""

    async def tell(self, user_id: str, replies: list[Reply]) -> None:
        """Queue replies to another member, for the flusher."""


class Transaction(Protocol):
    """Work on one user's data, committed all together or not at all."""

    @property
    def user_id(self) -> str:
        """Whose transaction this is."""

    @property
    def circle(self) -> CircleTx:
        """The circle this user is in: its views and changes, in this same transaction."""

    async def seen(self, update_id: int) -> bool:
        """True if this update id was already handled (a redelivery)."""

    async def mark_seen(self, update_id: int) -> None:
        """Record that this update id is handled, in this transaction."""

    async def load_session(self) -> Session | None:
        """This user's session, or None for a new user."""

    async def save_session(self, session: Session) -> None:
        """Store the session (optimistic version checked / row locked by the implementation)."""

    async def add_outbox(self, chat_id: str, replies: list[Reply]) -> list[OutboxItem]:
        """Queue replies to send after commit, claimed by this process; returns them in order."""

    async def save_profile(self, profile: Profile, at: dt.datetime) -> None:
        """Keep a completed profile with its date (for progress over time)."""

    async def delete_user(self) -> None:
        """Erase everything stored about this user (sessions, profiles, outbox, status); the update ids
        they sent are kept without their user id, so a redelivery is still recognised."""

    async def add_reminder(self, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for this user, committed with the rest of the transaction."""

    async def cancel_reminders(self) -> int:
        """Drop this user's reminders not yet sent; returns how many."""

    async def finish_reminder(self, reminder_id: int) -> bool:
        """Mark this user's reminder sent in this transaction; False if it was sent or dropped already."""

    async def bump(self, names: list[str]) -> None:
        """Add one to each anonymous counter (no user id is kept with them)."""


class Store(Protocol):
    """Durable state. One implementation on SQLAlchemy (SQLite, PostgreSQL), one in memory."""

    clock: Clock  # the time the store writes (leases, last seen); tests move it

    def transaction(self, user_id: str, touch: bool = True) -> AbstractAsyncContextManager[Transaction]:
        """A transaction holding this user's lock: one update of a user at a time."""

    async def pending_outbox(
        self, limit: int = 100, older_than: dt.datetime | None = None
    ) -> list[OutboxItem]:
        """Replies committed but not yet sent, oldest first (optionally only those created before a time)."""

    async def claim_outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Claim replies nobody is sending (or whose sender's lease ran out), oldest first; a user's
        later reply is not claimed while an earlier one is held by someone else."""

    async def release_claims(self) -> int:
        """At start: SQLite has a single sender, so claims left by an earlier process are released
        (it died); on PostgreSQL other processes are alive and their leases run out by themselves."""

    async def reserve_slot(self, name: str, gap: float) -> float:
        """The time (seconds since the epoch, store clock) at which the caller may make one send of
        this kind; each slot follows the last one by at least `gap` seconds, across all processes."""

    async def mark_sent(self, item_id: int) -> None:
        """Remove a delivered reply from the outbox."""

    async def mark_failed(self, item_id: int, parts_done: int = 0, tried: bool = True) -> None:
        """Release the claim, counting a failed attempt if it was `tried` (the item stays for a retry)."""

    async def set_active(self, user_id: str, active: bool) -> None:
        """Mark a user active or inactive (inactive: blocked the bot)."""

    async def is_active(self, user_id: str) -> bool:
        """False once the user has blocked the bot (until they return)."""

    async def purge_inactive(self, before: dt.datetime) -> int:
        """Delete users with no activity since `before`; returns how many."""

    async def prune_processed(self, before: dt.datetime) -> int:
        """Forget processed update ids older than `before` (redeliveries come within hours)."""

    async def profiles(self, user_id: str) -> list[tuple[dt.datetime, Profile]]:
        """A user's completed profiles, oldest first."""

    async def counters(self) -> dict[str, int]:
        """Every anonymous counter and its total (for /stats)."""

    async def claim_due_reminders(self, now: dt.datetime, limit: int = 100) -> list[Reminder]:
        """Claim due reminders for this caller; each is claimed once (until its claim times out)."""

    async def cancel_reminders(self, user_id: str) -> int:
        """Drop a user's reminders not yet sent; returns how many."""

    async def ping(self) -> None:
        """Raise if the database cannot be reached now (for /healthz)."""

    async def close(self) -> None:
        """Release connections."""
