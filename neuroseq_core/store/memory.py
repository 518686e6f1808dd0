"""An in-memory store with the same semantics as the SQL one: for tests, fakes and the console."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from neuroseq_core.domain.clock import Clock, as_utc, utcnow
from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Profile, Session
from neuroseq_core.store.base import CLAIM_TIMEOUT, OUTBOX_LEASE, OutboxItem, Reminder, StaleSessionError
from neuroseq_core.store.circle_memory import MemoryCircle
from neuroseq_core.store.circle_sql import DIGEST
from neuroseq_core.store.locks import KeyedLock
from neuroseq_core.store.memory_rows import OutboxRow, ReminderRow, State, UserRow


class MemoryTransaction:
    """Changes are journalled and applied to the store only on commit (so an exception leaves nothing)."""

    def __init__(self, store: MemoryStore, user_id: str) -> None:
        self._store = store
        self.user_id = user_id
        self._known = user_id in store._state.users  # we hold something about this user
        self._erased = False  # erased in this transaction: nothing of theirs is waiting any more
        self._checks: list[Callable[[State], None]] = []  # run before any change is applied
        self._journal: list[Callable[[State], object]] = []
        self._seen: set[int] = set()
        self._has_overlay = False  # this transaction wrote (or erased) the session
        self._overlay: str | None = None
        self._has_expected = False  # the session version this transaction expects in the store
        self._expected: int | None = None
        self.circle = MemoryCircle(self)  # journals through the five methods below

    def committed(self) -> State:
        """The store's committed tables."""
        return self._store._state

    def now(self) -> dt.datetime:
        """The store's clock."""
        return as_utc(self._store.clock())

    def next_id(self) -> int:
        """A new row id."""
        return next(self._store._ids)

    def apply(self, op: Callable[[State], object]) -> None:
        """Journal a write, applied at commit."""
        self._journal.append(op)

    def check(self, op: Callable[[State], None]) -> None:
        """Journal a check, run at commit before any write."""
        self._checks.append(op)

    def _stored_version(self) -> int | None:
        stored = self._store._state.sessions.get(self.user_id)
        return stored[0] if stored else None

    def commit(self) -> None:
        """Check, then apply the journal to the store all at once."""
        state = self._store._state
        for check in self._checks:
            check(state)
        for op in self._journal:
            op(state)

    async def seen(self, update_id: int) -> bool:
        """True if this update id was already handled (a redelivery)."""
        return update_id in self._seen or update_id in self._store._state.processed

    async def mark_seen(self, update_id: int) -> None:
        """Record that this update id is handled, in this transaction."""
        self._seen.add(update_id)
        # Someone we keep nothing about (erased, or a stale press) leaves the id alone: it still stops a
        # redelivery, and names nobody.
        owner = self.user_id if self._known else None
        now = self._store.clock()
        self.apply(lambda s: s.processed.setdefault(update_id, (owner, now)))

    async def load_session(self) -> Session | None:
        """This user's session, or None for a new user."""
        if self._has_overlay:
            raw = self._overlay
        else:
            stored = self._store._state.sessions.get(self.user_id)
            if not self._has_expected:
                self._has_expected, self._expected = True, stored[0] if stored else None
            raw = stored[1] if stored else None
        return Session.from_json(raw) if raw is not None else None

    async def save_session(self, session: Session) -> None:
        """Store the session; raises StaleSessionError if it changed since it was loaded."""
        if not self._has_expected:  # saved without loading: expect what is stored now
            self._has_expected, self._expected = True, self._stored_version()
        expected, user_id = self._expected, self.user_id
        if not self._has_overlay:
            # The first write of this transaction: the store must still hold the version read.
            if self._stored_version() != expected:
                raise StaleSessionError(user_id)

            def check(s: State) -> None:
                current = s.sessions.get(user_id)
                if (current[0] if current else None) != expected:
                    raise StaleSessionError(user_id)

            self._checks.append(check)
        raw = session.to_json()
        self._ensure_user()  # a new user, or one starting over after an erasure

        def write(s: State) -> None:
            s.sessions[user_id] = ((expected or 0) + 1, raw)

        self.apply(write)
        self._has_overlay, self._overlay, self._expected = True, raw, (expected or 0) + 1

    def _ensure_user(self) -> None:
        if self._known:
            return
        self._known, user_id, now = True, self.user_id, self._store.clock()
        self.apply(lambda s: s.users.setdefault(user_id, UserRow(True, now, now)))

    async def add_outbox(self, chat_id: str, replies: list[Reply]) -> list[OutboxItem]:
        """Queue replies to send after commit, claimed by this process for its lease; returns them."""
        now = as_utc(self._store.clock())
        lease = now + self._store.lease
        worker = self._store.worker
        # Replies of theirs still waiting go first (claimed now), or, if another sender holds one,
        # these wait for the flusher too: a new reply never overtakes an older one.
        mine = (
            []
            if self._erased
            else [(k, r) for k, r in self._store._state.outbox.items() if r.user_id == self.user_id]
        )
        waiting = sorted(mine)
        if any(r.lease_until is not None and r.lease_until >= now for _, r in waiting):
            waiting = []  # one is being sent right now, just ahead of these
        rows = {
            next(self._store._ids): OutboxRow(
                self.user_id, chat_id, r.model_dump_json(), 0, now, worker, lease
            )
            for r in replies
        }

        def add(s: State) -> None:
            for key, _ in waiting:
                if key in s.outbox:
                    s.outbox[key].claimed_by, s.outbox[key].lease_until = worker, lease
            s.outbox.update(rows)

        self.apply(add)
        earlier = [replace(r, claimed_by=worker, lease_until=lease).item(k) for k, r in waiting]
        return earlier + [row.item(item_id) for item_id, row in rows.items()]

    async def save_profile(self, profile: Profile, at: dt.datetime) -> None:
        """Keep a completed profile with its date."""
        self._ensure_user()
        item_id, user_id, raw, when = (
            next(self._store._ids),
            self.user_id,
            profile.model_dump_json(),
            as_utc(at),
        )
        self.apply(lambda s: s.profiles.__setitem__(item_id, (user_id, when, raw)))

    async def delete_user(self) -> None:
        """Erase everything stored about this user."""
        user_id = self.user_id
        self._known, self._erased = False, True
        self._has_overlay, self._overlay, self._has_expected, self._expected = True, None, True, None
        self._seen.clear()
        self.apply(lambda s: s.erase(user_id))

    async def add_reminder(self, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for this user, committed with the rest of the transaction."""
        self._ensure_user()
        item_id = next(self._store._ids)
        row = ReminderRow(self.user_id, chat_id, as_utc(due_at), kind)
        self.apply(lambda s: s.reminders.__setitem__(item_id, row))
        return item_id

    async def cancel_reminders(self) -> int:
        """Drop this user's check-ins and progress offers not yet sent (not the circle's daily note)."""
        user_id = self.user_id

        def pending(r: ReminderRow) -> bool:
            return r.user_id == user_id and r.sent_at is None and r.kind != DIGEST

        count = sum(1 for r in self._store._state.reminders.values() if pending(r))

        def cancel(s: State) -> None:
            s.reminders = {k: r for k, r in s.reminders.items() if not pending(r)}

        self.apply(cancel)
        return count

    async def finish_reminder(self, reminder_id: int) -> bool:
        """Mark this user's reminder sent in this transaction; False if it was sent (or dropped) already."""
        row = self._store._state.reminders.get(reminder_id)
        if row is None or row.user_id != self.user_id or row.sent_at is not None:
            return False
        now = self._store.clock()

        def finish(s: State) -> None:
            current = s.reminders.get(reminder_id)
            if current is not None:
                s.reminders[reminder_id] = replace(current, sent_at=now)

        self.apply(finish)
        return True

    async def bump(self, names: list[str]) -> None:
        """Add one to each anonymous counter, committed with the rest of the transaction."""
        keys = [name[:100] for name in names]

        def bump(s: State) -> None:
            for key in keys:
                s.counters[key] = s.counters.get(key, 0) + 1

        self.apply(bump)


class MemoryStore:
    """Durable only for the life of the process; the same locking and erasure rules as SqlStore."""

    def __init__(self, clock: Clock = utcnow, lease: dt.timedelta = OUTBOX_LEASE) -> None:
        self.clock = clock
        self.lease = lease
        self.worker = secrets.token_hex(8)
        self._state = State()
        self._ids = itertools.count(1)
        self._locks = KeyedLock()
        self._mutex = asyncio.Lock()  # for the store-wide calls that claim work
        self._pace: dict[str, float] = {}

    @asynccontextmanager
    async def transaction(self, user_id: str, touch: bool = True) -> AsyncIterator[MemoryTransaction]:
        """A transaction holding this user's lock; committed on normal exit, discarded on exception."""
        async with self._locks.hold(user_id):
            tx = MemoryTransaction(self, user_id)
            now = self.clock()

            def mark(s: State) -> None:
                user = s.users.get(user_id)  # a known user's activity; nobody new is added here
                if user is not None:
                    user.active, user.last_seen_at = True, now

            if touch:  # not for a reminder: it is not the user coming back
                tx.apply(mark)
            yield tx
            tx.commit()

    async def pending_outbox(
        self, limit: int = 100, older_than: dt.datetime | None = None
    ) -> list[OutboxItem]:
        """Replies committed but not yet sent, oldest first (optionally only those created before a time)."""
        rows = [
            (item_id, row)
            for item_id, row in sorted(self._state.outbox.items())
            if older_than is None or row.created_at < as_utc(older_than)
        ][: max(limit, 0)]
        return [row.item(item_id) for item_id, row in rows]

    async def claim_outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Claim replies nobody is sending, oldest first; a user's later ones wait for a held earlier one."""
        now = as_utc(self.clock())
        held: set[str] = set()
        claimed: list[OutboxItem] = []
        async with self._mutex:
            for item_id, row in sorted(self._state.outbox.items()):
                if len(claimed) >= limit:
                    break
                if row.lease_until is not None and row.lease_until >= now:
                    held.add(row.user_id)
                    continue
                if row.user_id in held:
                    continue
                row.claimed_by, row.lease_until = self.worker, now + self.lease
                claimed.append(row.item(item_id))
        return claimed

    async def release_claims(self) -> int:
        """Release every claim, as on SQLite: one sender, and it is starting now."""
        held = [row for row in self._state.outbox.values() if row.claimed_by is not None]
        for row in held:
            row.claimed_by, row.lease_until = None, None
        return len(held)

    async def reserve_slot(self, name: str, gap: float) -> float:
        """The next send slot of this kind."""
        now = self.clock().timestamp()
        slot = max(self._pace.get(name, now), now)
        self._pace[name] = slot + gap
        return slot

    async def mark_sent(self, item_id: int) -> None:
        """Remove a delivered reply from the outbox."""
        self._state.outbox.pop(item_id, None)

    async def mark_failed(self, item_id: int, parts_done: int = 0, tried: bool = True) -> None:
        """Release the claim, counting a failed attempt if it was `tried` (the item stays for a retry)."""
        row = self._state.outbox.get(item_id)
        if row is not None and row.claimed_by == self.worker:  # only by its holder
            row.attempts, row.parts_done, row.claimed_by, row.lease_until = (
                row.attempts + int(tried),
                parts_done,
                None,
                None,
            )

    async def set_active(self, user_id: str, active: bool) -> None:
        """Mark a known user active or inactive; a user who blocked the bot gets no more reminders."""
        user = self._state.users.get(user_id)
        if user is not None:
            user.active = active
        if not active:
            for key in [
                k for k, r in self._state.reminders.items() if r.user_id == user_id and r.sent_at is None
            ]:
                del self._state.reminders[key]

    async def counters(self) -> dict[str, int]:
        """Every anonymous counter and its total."""
        return dict(self._state.counters)

    async def is_active(self, user_id: str) -> bool:
        """False once the user has blocked the bot (until they return); unknown users are active."""
        user = self._state.users.get(user_id)
        return user is None or user.active

    async def purge_inactive(self, before: dt.datetime) -> int:
        """Delete users with no activity since `before`; returns how many."""
        cutoff = as_utc(before)
        count = 0
        for user_id in [uid for uid, u in self._state.users.items() if u.last_seen_at < cutoff]:
            async with self._locks.hold(user_id):
                user = self._state.users.get(user_id)
                if user is not None and user.last_seen_at < cutoff:  # not back while we waited
                    self._state.erase(user_id)
                    count += 1
        now = as_utc(self.clock())
        invites = self._state.circles.invites
        for code_hash in [h for h, i in invites.items() if i.expires_at < now]:
            del invites[code_hash]
        return count

    async def prune_processed(self, before: dt.datetime) -> int:
        """Forget handled update ids older than `before`; returns how many."""
        cutoff = as_utc(before)
        old = [k for k, (_, at) in self._state.processed.items() if at < cutoff]
        for key in old:
            del self._state.processed[key]
        return len(old)

    async def profiles(self, user_id: str) -> list[tuple[dt.datetime, Profile]]:
        """A user's completed profiles, oldest first."""
        rows = sorted((at, k, raw) for k, (uid, at, raw) in self._state.profiles.items() if uid == user_id)
        return [(at, Profile.model_validate_json(raw)) for at, _, raw in rows]

    async def add_reminder(self, user_id: str, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for a known user (raises ValueError for an unknown one)."""
        if user_id not in self._state.users:
            raise ValueError("reminder for an unknown user")
        item_id = next(self._ids)
        self._state.reminders[item_id] = ReminderRow(user_id, chat_id, as_utc(due_at), kind)
        return item_id

    async def claim_due_reminders(self, now: dt.datetime, limit: int = 100) -> list[Reminder]:
        """Claim up to `limit` due reminders for this caller; each is claimed once (until it times out)."""
        now = as_utc(now)
        async with self._mutex:
            due = sorted(
                (r.due_at, k)
                for k, r in self._state.reminders.items()
                if r.sent_at is None
                and r.due_at <= now
                and (r.claimed_at is None or r.claimed_at < now - CLAIM_TIMEOUT)
            )[:limit]
            claimed = []
            for _, key in due:
                row = self._state.reminders[key]
                row.claimed_at = now
                claimed.append(Reminder(key, row.user_id, row.chat_id, row.due_at, row.kind))
            return claimed

    async def cancel_reminders(self, user_id: str) -> int:
        """Drop a user's reminders not yet sent; returns how many."""
        async with self.transaction(user_id) as tx:
            return await tx.cancel_reminders()

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Nothing to release."""
