"""The SQL store on SQLAlchemy 2 (async Core): SQLite via aiosqlite by default, PostgreSQL via asyncpg.

One update of one user at a time: an in-process asyncio lock per user, then a database transaction that
holds that user's row lock (PostgreSQL: the UPDATE of their users row locks it; SQLite: BEGIN IMMEDIATE takes
the database's single write lock). Several bot processes sharing one PostgreSQL are serialised per user by
the row lock; the session version column is a second, optimistic guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from neuroseq_core.domain.clock import Clock, as_utc, utcnow
from neuroseq_core.domain.session import Profile
from neuroseq_core.store import pg_raw
from neuroseq_core.store import statements as q
from neuroseq_core.store.base import CLAIM_TIMEOUT, OUTBOX_LEASE, OutboxItem, Reminder
from neuroseq_core.store.batch import Coalescer
from neuroseq_core.store.connect import PG_POOL_SIZE, begin
from neuroseq_core.store.locks import KeyedLock
from neuroseq_core.store.sql_tx import (
    SqlTransaction,
    add_reminder_row,
    cancel_reminder_rows,
    delete_outbox_row,
    item_of,
)
from neuroseq_core.store.sqlite_inline import checkpoint_now
from neuroseq_core.store.tables import (
    circle_invites,
    counters,
    outbox,
    processed_updates,
    profiles,
    reminders,
    users,
)

log = logging.getLogger(__name__)
CHECKPOINT_WAIT_MS = 1000  # after an erasure, how long the checkpoint waits for a reader elsewhere
_CLAIM_LOCK = 7_302_611  # PostgreSQL advisory lock: one claimer at a time keeps a user's replies in order


class SqlStore:
    """Durable state in SQLite or PostgreSQL. Build with `open_store(url)`, which migrates first."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock = utcnow, lease: dt.timedelta = OUTBOX_LEASE
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock
        self.worker = secrets.token_hex(8)  # this process, in the outbox rows it claims
        self.lease = lease
        self._locks = KeyedLock()
        # SQLite has one writer at a time. Queueing this process's writers here (first come, first served)
        # instead of in SQLite's busy handler, which polls with growing sleeps, cut p99 with 16 concurrent
        # users from ~1.4 s to the length of the queue (bench/bench_store.py). Other processes still wait
        # in busy_timeout. Not re-entrant: never call a writing store method inside `transaction`.
        self._sqlite_writer = asyncio.Lock() if self.dialect == "sqlite" else None
        # PostgreSQL: callers queue here, first come first served, for one of the pool's PG_POOL_SIZE
        # connections (store/connect.py), never inside the pool, where a waiter holds one of
        # SQLAlchemy's greenlets and fails after its 30 s pool timeout.
        self._slots = asyncio.Semaphore(PG_POOL_SIZE) if self.dialect == "postgresql" else None
        self._deletes = Coalescer(self._delete_sent)
        database = engine.url.database if self.dialect == "sqlite" else None
        self._sqlite_path = Path(database).expanduser() if database else None

    @asynccontextmanager
    async def _begin(self, write: bool = True) -> AsyncIterator[AsyncConnection]:
        turn = self._sqlite_writer if write and self._sqlite_writer is not None else self._slot()
        async with turn, begin(self.engine, write) as conn:
            yield conn

    def _slot(self) -> contextlib.AbstractAsyncContextManager[object]:
        """A turn at one of PostgreSQL's pooled connections (nothing to wait for on SQLite)."""
        return self._slots if self._slots is not None else contextlib.nullcontext()

    @asynccontextmanager
    async def transaction(self, user_id: str, touch: bool = True) -> AsyncIterator[SqlTransaction]:
        """A transaction holding this user's lock; committed on normal exit, rolled back on exception.

        Use only the transaction object inside: a writing store method called in the block would wait for
        this very transaction (forever on SQLite, where this process's writers queue on one lock).
        """
        async with self._locks.hold(user_id):
            async with self._begin() as conn:
                # The UPDATE locks a known user's row (PostgreSQL), serialising their updates across
                # processes; it never creates one (an old button after an erasure brings nobody back).
                # Without `touch` (a reminder running): locked the same, but not marked seen or
                # active, so the retention purge and a block still apply to someone who is away.
                driver: pg_raw.Driver | None = None
                if self.dialect == "postgresql":  # the hot path's statements go to asyncpg (pg_raw)
                    pg = await pg_raw.driver_of(conn)
                    known, driver = await self._lock_user_pg(pg, user_id, touch), pg
                else:
                    seen = q.TOUCH_KNOWN_USER if touch else q.LOCK_KNOWN_USER
                    params = (
                        {"t_user_id": user_id, "t_now": self.clock()} if touch else {"t_user_id": user_id}
                    )
                    known = (await conn.execute(seen, params)).first() is not None
                tx = SqlTransaction(self, conn, user_id, known, driver)
                yield tx
                await tx.flush()  # PostgreSQL: what was held back for one statement (pg_raw.Writes)
            if tx.erased:
                await self._forget_pages()

    async def _lock_user_pg(self, driver: pg_raw.Driver, user_id: str, touch: bool) -> bool:
        """PostgreSQL: lock a known user's row (marking them seen if `touch`); whether they are known.
        Someone new has no row to lock yet: a lock on their id, then the row if another process
        created it meanwhile."""

        async def lock() -> bool:
            if touch:
                return (
                    await driver.fetchrow(pg_raw.TOUCH_KNOWN_USER, user_id, as_utc(self.clock())) is not None
                )
            return await driver.fetchrow(pg_raw.LOCK_KNOWN_USER, user_id) is not None

        if await lock():
            return True
        await driver.execute(pg_raw.LOCK_NEW_USER, user_id)
        return await lock()

    async def _forget_pages(self) -> None:
        """After an erasure (SQLite): copy the WAL into the database and empty it, so the erased rows
        live on neither in the log nor (secure_delete) in the freed pages. On a worker thread, waiting at
        most a second for a reader elsewhere (another process, a backup) that holds the log; best effort:
        the next checkpoint finishes the job (a failure is logged)."""
        if self._sqlite_path is not None:
            await checkpoint_now(self._sqlite_path, "TRUNCATE", CHECKPOINT_WAIT_MS)

    async def pending_outbox(
        self, limit: int = 100, older_than: dt.datetime | None = None
    ) -> list[OutboxItem]:
        """Replies committed but not yet sent, oldest first (optionally only those queued before a time)."""
        query = sa.select(outbox).order_by(outbox.c.id).limit(limit)
        if older_than is not None:
            query = query.where(outbox.c.created_at < older_than)
        async with self._begin(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [item_of(r) for r in rows]

    async def claim_outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Claim replies nobody is sending, oldest first (one claimer at a time keeps a user's order)."""
        now = self.clock()
        async with self._begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
            ids = list((await conn.execute(q.CLAIMABLE, {"now": now, "limit": limit})).scalars())
            if not ids:
                return []
            claimed = await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(claimed_by=self.worker, lease_until=now + self.lease)
                .returning(*outbox.c)
            )
            rows = claimed.all()
        return sorted((item_of(r) for r in rows), key=lambda i: i.id)

    async def release_claims(self) -> int:
        """SQLite: release every claim (one sender; an earlier process died). PostgreSQL: none."""
        if self.dialect != "sqlite":
            return 0
        async with self._begin() as conn:
            released = await conn.execute(
                sa.update(outbox)
                .where(outbox.c.claimed_by.is_not(None))
                .values(claimed_by=None, lease_until=None)
                .returning(outbox.c.id)
            )
            return len(released.all())

    async def reserve_slot(self, name: str, gap: float) -> float:
        """The next send slot of this kind, across all processes (one short write)."""
        now = self.clock().timestamp()
        async with self._begin() as conn:
            slot = (await conn.execute(q.RESERVE_SLOT, {"name": name, "now": now, "gap": gap})).scalar_one()
        return float(slot) - gap

    async def mark_sent(self, item_id: int) -> None:
        """Remove a delivered reply from the outbox: one statement that commits by itself (this runs
        for every message sent, and a transaction around it was two more round trips)."""
        if self._sqlite_writer is not None:
            async with self._sqlite_writer, self.engine.connect() as conn:
                await conn.run_sync(delete_outbox_row, item_id)
            return
        await self._deletes.add(item_id)  # with those marked meanwhile, in one statement (store/batch.py)

    async def _delete_sent(self, item_ids: list[int]) -> None:
        async with self._slot(), self.engine.connect() as conn:
            # No transaction: SQLAlchemy's begins with its first statement, and there is none.
            await (await pg_raw.driver_of(conn)).execute(pg_raw.DELETE_OUTBOX, item_ids)

    async def mark_failed(self, item_id: int, parts_done: int = 0, tried: bool = True) -> None:
        """Release the claim, counting a failed attempt if it was `tried` (the item stays for a retry)."""
        async with self._begin() as conn:
            await conn.execute(
                q.FAIL_OUTBOX,
                {"item_id": item_id, "b_parts_done": parts_done, "tried": int(tried), "worker": self.worker},
            )

    async def set_active(self, user_id: str, active: bool) -> None:
        """Mark a known user active or inactive; a user who blocked the bot gets no more reminders."""
        async with self._begin() as conn:
            await conn.execute(sa.update(users).where(users.c.user_id == user_id).values(active=active))
            if not active:
                await cancel_reminder_rows(conn, user_id)

    async def counters(self) -> dict[str, int]:
        """Every anonymous counter and its total."""
        async with self._begin(write=False) as conn:
            rows = (await conn.execute(sa.select(counters.c.name, counters.c.value))).all()
        return {r.name: int(r.value) for r in rows}

    async def is_active(self, user_id: str) -> bool:
        """False once the user has blocked the bot (until they return); unknown users are active."""
        async with self._begin(write=False) as conn:
            active = (await conn.execute(q.IS_ACTIVE, {"user_id": user_id})).scalar()
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
            # Their circles, memberships and tries went with them (foreign keys); invites past their
            # date go too, whoever made them.
            await conn.execute(sa.delete(circle_invites).where(circle_invites.c.expires_at < self.clock()))
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

    async def add_reminder(self, user_id: str, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for a known user (raises ValueError for an unknown one)."""
        async with self._begin() as conn:
            if (
                await conn.execute(sa.select(users.c.user_id).where(users.c.user_id == user_id))
            ).first() is None:
                raise ValueError("reminder for an unknown user")
            return await add_reminder_row(conn, user_id, chat_id, due_at, kind)

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
            return await cancel_reminder_rows(conn, user_id)

    async def ping(self) -> None:
        """One round trip to the database; raises if it cannot be reached."""
        async with self._slot(), self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        """Release connections."""
        await self.engine.dispose()
