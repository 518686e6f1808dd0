"""The SQL store on SQLAlchemy 2 (async Core): SQLite via aiosqlite by default, PostgreSQL via asyncpg.

One update of one user at a time: an in-process asyncio lock per user, then a database transaction that
holds that user's row lock (PostgreSQL: the upsert of the users row locks it; SQLite: BEGIN IMMEDIATE takes
the database's single write lock). Several bot processes sharing one PostgreSQL are serialised per user by
the row lock; the session version column is a second, optimistic guard.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from neuroseq_core.domain.clock import Clock, utcnow
from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Profile, Session
from neuroseq_core.store.base import CLAIM_TIMEOUT, OutboxItem, Reminder, StaleSessionError
from neuroseq_core.store.connect import begin
from neuroseq_core.store.locks import KeyedLock
from neuroseq_core.store.tables import (
    USER,
    UTCDateTime,
    counters,
    outbox,
    processed_updates,
    profiles,
    reminders,
    sessions,
    users,
)


def _insert(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


# The two upserts on every update, as text: the same SQL on SQLite and PostgreSQL, and (unlike the dialects'
# on_conflict constructs) cacheable by SQLAlchemy, so they are not compiled again for each update.
_TOUCH_USER = sa.text(
    "INSERT INTO users (user_id, active, created_at, last_seen_at) VALUES (:user_id, true, :now, :now) "
    "ON CONFLICT (user_id) DO UPDATE SET active = true, last_seen_at = excluded.last_seen_at"
).bindparams(sa.bindparam("user_id", type_=USER), sa.bindparam("now", type_=UTCDateTime()))
_MARK_SEEN = sa.text(
    "INSERT INTO processed_updates (update_id, user_id, handled_at) VALUES (:update_id, :user_id, :now) "
    "ON CONFLICT (update_id) DO NOTHING"
).bindparams(
    sa.bindparam("update_id", type_=sa.BigInteger()),
    sa.bindparam("user_id", type_=USER),
    sa.bindparam("now", type_=UTCDateTime()),
)


_BUMP = sa.text(
    "INSERT INTO counters (name, value) VALUES (:name, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
).bindparams(sa.bindparam("name", type_=sa.String(100)))


# The statements of every update and delivery, built once. Building a statement and working out its cache key
# costs ~150 µs each time; a prebuilt one's key is memoised (~2 µs), and SQLAlchemy's compiled cache does the
# rest. About 1 ms per update on the benchmark machine (bench/bench_e2e.py, docs/benchmarks.md).
_SEEN = sa.select(sa.literal(1)).where(processed_updates.c.update_id == sa.bindparam("update_id"))
_LOAD_SESSION = sa.select(sessions.c.version, sessions.c.data).where(
    sessions.c.user_id == sa.bindparam("user_id")
)
_SESSION_VERSION = sa.select(sessions.c.version).where(sessions.c.user_id == sa.bindparam("user_id"))
_UPDATE_SESSION = (
    sa.update(sessions)
    .where(sessions.c.user_id == sa.bindparam("b_user_id"), sessions.c.version == sa.bindparam("b_version"))
    .values(version=sessions.c.version + 1, data=sa.bindparam("b_data"), updated_at=sa.bindparam("b_now"))
    .returning(sessions.c.version)
)
_INSERT_SESSION = {
    dialect: _insert(dialect, sessions)
    .values(
        user_id=sa.bindparam("b_user_id"),
        version=1,
        data=sa.bindparam("b_data"),
        updated_at=sa.bindparam("b_now"),
    )
    .on_conflict_do_nothing(index_elements=["user_id"])
    .returning(sessions.c.version)
    for dialect in ("sqlite", "postgresql")
}
_ADD_OUTBOX = sa.insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)
_DELETE_OUTBOX = sa.delete(outbox).where(outbox.c.id == sa.bindparam("item_id"))
_FAIL_OUTBOX = (
    sa.update(outbox).where(outbox.c.id == sa.bindparam("item_id")).values(attempts=outbox.c.attempts + 1)
)
_IS_ACTIVE = sa.select(users.c.active).where(users.c.user_id == sa.bindparam("user_id"))


class SqlTransaction:
    """One user's work inside one database transaction (see `SqlStore.transaction`)."""

    def __init__(self, store: SqlStore, conn: AsyncConnection, user_id: str) -> None:
        self._store = store
        self._conn = conn
        self.user_id = user_id
        self._deleted = False
        self._has_version = False
        self._version: int | None = None  # the session version this transaction expects in the table

    async def seen(self, update_id: int) -> bool:
        """True if this update id was already handled (a redelivery)."""
        return (await self._conn.execute(_SEEN, {"update_id": update_id})).first() is not None

    async def mark_seen(self, update_id: int) -> None:
        """Record that this update id is handled, in this transaction."""
        owner = None if self._deleted else self.user_id
        await self._conn.execute(
            _MARK_SEEN, {"update_id": update_id, "user_id": owner, "now": self._store.clock()}
        )

    async def load_session(self) -> Session | None:
        """This user's session, or None for a new user."""
        row = (await self._conn.execute(_LOAD_SESSION, {"user_id": self.user_id})).first()
        if not self._has_version:
            self._has_version, self._version = True, row.version if row else None
        return Session.from_json(row.data) if row else None

    async def save_session(self, session: Session) -> None:
        """Store the session; raises StaleSessionError if its version moved since it was loaded."""
        if not self._has_version:  # saved without loading: expect what is stored now
            version = (await self._conn.execute(_SESSION_VERSION, {"user_id": self.user_id})).scalar()
            self._has_version, self._version = True, version
        now, data = self._store.clock(), session.to_json()
        if self._deleted:  # saved again after an erasure: the user starts over
            await self._store._touch(self._conn, self.user_id, now)
            self._deleted = False
        stmt: ReturningInsert[tuple[int]] | ReturningUpdate[tuple[int]]
        params: dict[str, Any] = {"b_user_id": self.user_id, "b_data": data, "b_now": now}
        if self._version is None:
            stmt = _INSERT_SESSION[self._store.dialect]
        else:
            stmt = _UPDATE_SESSION
            params["b_version"] = self._version
        new_version = (await self._conn.execute(stmt, params)).scalar()
        if new_version is None:
            raise StaleSessionError(self.user_id)
        self._version = new_version

    async def add_outbox(self, chat_id: str, replies: list[Reply]) -> list[int]:
        """Queue replies to send after commit; returns their ids in order."""
        if not replies:
            return []
        now = self._store.clock()
        rows = [
            {"user_id": self.user_id, "chat_id": chat_id, "payload": r.model_dump_json(), "created_at": now}
            for r in replies
        ]
        return list((await self._conn.execute(_ADD_OUTBOX, rows)).scalars())

    async def save_profile(self, profile: Profile, at: dt.datetime) -> None:
        """Keep a completed profile with its date (for progress over time)."""
        await self._conn.execute(
            sa.insert(profiles).values(user_id=self.user_id, created_at=at, data=profile.model_dump_json())
        )

    async def delete_user(self) -> None:
        """Erase everything stored about this user, in every table."""
        for table in (sessions, profiles, processed_updates, outbox, reminders, users):
            await self._conn.execute(sa.delete(table).where(table.c.user_id == self.user_id))
        self._deleted, self._has_version, self._version = True, True, None

    async def add_reminder(self, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for this user, committed with the rest of the transaction."""
        return await self._store._add_reminder(self._conn, self.user_id, chat_id, due_at, kind)

    async def cancel_reminders(self) -> int:
        """Drop this user's reminders not yet sent; returns how many."""
        return await self._store._cancel_reminders(self._conn, self.user_id)

    async def finish_reminder(self, reminder_id: int) -> bool:
        """Mark this user's reminder sent in this transaction; False if it was sent (or dropped) already."""
        done = await self._conn.execute(
            sa.update(reminders)
            .where(
                reminders.c.id == reminder_id,
                reminders.c.user_id == self.user_id,
                reminders.c.sent_at.is_(None),
            )
            .values(sent_at=self._store.clock())
            .returning(reminders.c.id)
        )
        return done.first() is not None

    async def bump(self, names: list[str]) -> None:
        """Add one to each anonymous counter, committed with the rest of the transaction."""
        for name in names:
            await self._conn.execute(_BUMP, {"name": name[:100]})


class SqlStore:
    """Durable state in SQLite or PostgreSQL. Build with `open_store(url)`, which migrates first."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock
        self._locks = KeyedLock()
        # SQLite has one writer at a time. Queueing this process's writers here (first come, first served)
        # instead of in SQLite's busy handler, which polls with growing sleeps, cut p99 with 16 concurrent
        # users from ~1.4 s to the length of the queue (bench/bench_store.py). Other processes still wait
        # in busy_timeout. Not re-entrant: never call a writing store method inside `transaction`.
        self._sqlite_writer = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def _begin(self, write: bool = True) -> AsyncIterator[AsyncConnection]:
        if write and self._sqlite_writer is not None:
            async with self._sqlite_writer, begin(self.engine, write) as conn:
                yield conn
        else:
            async with begin(self.engine, write) as conn:
                yield conn

    async def _touch(self, conn: AsyncConnection, user_id: str, now: dt.datetime) -> None:
        # ON CONFLICT DO UPDATE locks the existing row (PostgreSQL), so this one statement both records
        # activity and takes the per-user row lock that serialises processes: no separate SELECT FOR UPDATE.
        await conn.execute(_TOUCH_USER, {"user_id": user_id, "now": now})

    @asynccontextmanager
    async def transaction(self, user_id: str) -> AsyncIterator[SqlTransaction]:
        """A transaction holding this user's lock; committed on normal exit, rolled back on exception.

        Use only the transaction object inside: a writing store method called in the block would wait for
        this very transaction (forever on SQLite, where this process's writers queue on one lock).
        """
        async with self._locks.hold(user_id), self._begin() as conn:
            await self._touch(conn, user_id, self.clock())
            yield SqlTransaction(self, conn, user_id)

    async def pending_outbox(
        self, limit: int = 100, older_than: dt.datetime | None = None
    ) -> list[OutboxItem]:
        """Replies committed but not yet sent, oldest first (optionally only those queued before a time)."""
        query = sa.select(outbox).order_by(outbox.c.id).limit(limit)
        if older_than is not None:
            query = query.where(outbox.c.created_at < older_than)
        async with self._begin(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [
            OutboxItem(r.id, r.user_id, r.chat_id, Reply.model_validate_json(r.payload), r.attempts)
            for r in rows
        ]

    async def mark_sent(self, item_id: int) -> None:
        """Remove a delivered reply from the outbox."""
        async with self._begin() as conn:
            await conn.execute(_DELETE_OUTBOX, {"item_id": item_id})

    async def mark_failed(self, item_id: int) -> None:
        """Count a failed attempt (the item stays for a retry)."""
        async with self._begin() as conn:
            await conn.execute(_FAIL_OUTBOX, {"item_id": item_id})

    async def set_active(self, user_id: str, active: bool) -> None:
        """Mark a known user active or inactive; a user who blocked the bot gets no more reminders."""
        async with self._begin() as conn:
            await conn.execute(sa.update(users).where(users.c.user_id == user_id).values(active=active))
            if not active:
                await self._cancel_reminders(conn, user_id)

    async def counters(self) -> dict[str, int]:
        """Every anonymous counter and its total."""
        async with self._begin(write=False) as conn:
            rows = (await conn.execute(sa.select(counters.c.name, counters.c.value))).all()
        return {r.name: int(r.value) for r in rows}

    async def is_active(self, user_id: str) -> bool:
        """False once the user has blocked the bot (until they return); unknown users are active."""
        async with self._begin(write=False) as conn:
            active = (await conn.execute(_IS_ACTIVE, {"user_id": user_id})).scalar()
        return active is None or bool(active)

    async def purge_inactive(self, before: dt.datetime) -> int:
        """Delete users with no activity since `before` (every row of theirs); returns how many."""
        async with self._begin() as conn:
            # Users first: on PostgreSQL the DELETE waits for a user's open transaction and re-checks
            # last_seen_at after it, so someone who came back meanwhile stays (with their outbox).
            deleted = await conn.execute(
                sa.delete(users).where(users.c.last_seen_at < before).returning(users.c.user_id)
            )
            gone = list(deleted.scalars())
            for i in range(0, len(gone), 1000):
                await conn.execute(sa.delete(outbox).where(outbox.c.user_id.in_(gone[i : i + 1000])))
            return len(gone)

    async def prune_processed(self, before: dt.datetime) -> int:
        """Forget update ids handled before `before` (redeliveries come within hours); returns how many."""
        async with self._begin() as conn:
            gone = await conn.execute(
                sa.delete(processed_updates)
                .where(processed_updates.c.handled_at < before)
                .returning(processed_updates.c.update_id)
            )
            return len(gone.all())

    async def profiles(self, user_id: str) -> list[tuple[dt.datetime, Profile]]:
        """A user's completed profiles, oldest first."""
        query = (
            sa.select(profiles.c.created_at, profiles.c.data)
            .where(profiles.c.user_id == user_id)
            .order_by(profiles.c.created_at, profiles.c.id)
        )
        async with self._begin(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [(r.created_at, Profile.model_validate_json(r.data)) for r in rows]

    async def _add_reminder(
        self,
        conn: AsyncConnection,
        user_id: str,
        chat_id: str,
        due_at: dt.datetime,
        kind: str,
    ) -> int:
        stmt = (
            sa.insert(reminders)
            .values(user_id=user_id, chat_id=chat_id, due_at=due_at, kind=kind)
            .returning(reminders.c.id)
        )
        return int((await conn.execute(stmt)).scalar_one())

    async def _cancel_reminders(self, conn: AsyncConnection, user_id: str) -> int:
        stmt = (
            sa.delete(reminders)
            .where(reminders.c.user_id == user_id, reminders.c.sent_at.is_(None))
            .returning(reminders.c.id)
        )
        return len((await conn.execute(stmt)).all())

    async def add_reminder(self, user_id: str, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for a known user (raises ValueError for an unknown one)."""
        async with self._begin() as conn:
            if (
                await conn.execute(sa.select(users.c.user_id).where(users.c.user_id == user_id))
            ).first() is None:
                raise ValueError("reminder for an unknown user")
            return await self._add_reminder(conn, user_id, chat_id, due_at, kind)

    async def claim_due_reminders(self, now: dt.datetime, limit: int = 100) -> list[Reminder]:
        """Claim up to `limit` due reminders for this caller; each is claimed once (until it times out)."""
        due = (
            sa.select(reminders)
            .where(
                reminders.c.sent_at.is_(None),
                reminders.c.due_at <= now,
                sa.or_(reminders.c.claimed_at.is_(None), reminders.c.claimed_at < now - CLAIM_TIMEOUT),
            )
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
            # PostgreSQL: concurrent claimers skip each other's rows. SQLite ignores this; BEGIN IMMEDIATE
            # already makes the select-then-update atomic.
            .with_for_update(skip_locked=True)
        )
        async with self._begin() as conn:
            rows = (await conn.execute(due)).all()
            if rows:
                ids = [r.id for r in rows]
                await conn.execute(sa.update(reminders).where(reminders.c.id.in_(ids)).values(claimed_at=now))
        return [Reminder(r.id, r.user_id, r.chat_id, r.due_at, r.kind) for r in rows]

    async def cancel_reminders(self, user_id: str) -> int:
        """Drop a user's reminders not yet sent; returns how many."""
        async with self._begin() as conn:
            return await self._cancel_reminders(conn, user_id)

    async def close(self) -> None:
        """Release connections."""
        await self.engine.dispose()
