"""One user's work inside one database transaction, for the SQL store (neuroseq_core.store.sql)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from neuroseq_core.domain.clock import Clock, as_utc
from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Profile, Session
from neuroseq_core.store import pg_raw
from neuroseq_core.store import statements as q
from neuroseq_core.store.base import OutboxItem, StaleSessionError
from neuroseq_core.store.circle_sql import DIGEST, SqlCircle
from neuroseq_core.store.tables import (
    circle_log,
    circle_members,
    circles,
    outbox,
    processed_updates,
    profiles,
    reminders,
    sessions,
    users,
)

HELD_MARGIN = dt.timedelta(seconds=5)  # a lease ending later than this is "held" for this transaction


class TxStore(Protocol):
    """What a transaction reads from its store."""

    clock: Clock
    dialect: str
    worker: str
    lease: dt.timedelta


def item_of(row: Any) -> OutboxItem:
    return OutboxItem(
        row.id,
        row.user_id,
        row.chat_id,
        Reply.model_validate_json(row.payload),
        row.attempts,
        row.lease_until,
        row.parts_done,
    )


def delete_outbox_row(conn: sa.Connection, item_id: int) -> None:
    """SQLite: one DELETE on the driver's connection, which commits by itself (no BEGIN, no COMMIT:
    a third of the statements of a transaction, on the path of every message sent)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
    finally:
        cursor.close()


class SqlTransaction:
    """One user's work inside one database transaction (see `SqlStore.transaction`)."""

    def __init__(
        self,
        store: TxStore,
        conn: AsyncConnection,
        user_id: str,
        known: bool,
        driver: pg_raw.Driver | None = None,
    ) -> None:
        self._store = store
        self._conn = conn
        self._pg = driver  # PostgreSQL: the hot path's statements go to asyncpg directly (pg_raw)
        self._held = pg_raw.Writes(driver, user_id) if driver is not None else None
        self.user_id = user_id
        self._known = known  # the users row exists (in this transaction)
        self.erased = False
        self._has_version = False
        self._version: int | None = None  # the session version this transaction expects in the table
        self._prefetched: tuple[int | None, str | None] | None = None  # read with `seen`
        self._waiting: int | None = None  # this user's replies not yet sent, as `seen` found
        self.circle = SqlCircle(conn, user_id, store.clock)

    async def seen(self, update_id: int) -> bool:
        """True if this update id was already handled (a redelivery). The session is read in the
        same round trip, for the `load_session` that almost always follows."""
        await self.flush()  # a processed id or a session held back is read as written
        # A reply a sender holds for a while yet is being sent just ahead: the new ones follow it, and
        # `add_outbox` has nothing to take over (no query). The margin covers this transaction's length.
        soon = self._store.clock() + HELD_MARGIN
        if self._pg is not None:
            row = await self._pg.fetchrow(pg_raw.SEEN_AND_SESSION, update_id, self.user_id, as_utc(soon))
        else:
            params = {"update_id": update_id, "user_id": self.user_id, "soon": soon}
            row = (await self._conn.execute(q.SEEN_AND_SESSION, params)).one()
        seen, version, data, waiting, held = row
        self._prefetched, self._waiting = (version, data), 0 if held else int(waiting)
        return seen is not None

    async def mark_seen(self, update_id: int) -> None:
        """Record that this update id is handled, in this transaction."""
        # Someone we keep nothing about (erased, or a stale press) leaves the id alone: it still stops a
        # redelivery, and names nobody.
        owner = self.user_id if self._known else None
        if self._held is not None:
            self._held.seen(update_id, owner, self._store.clock())
            return
        await self._conn.execute(
            q.MARK_SEEN, {"update_id": update_id, "user_id": owner, "now": self._store.clock()}
        )

    async def load_session(self) -> Session | None:
        """This user's session, or None for a new user."""
        if self._prefetched is not None:
            (version, data), self._prefetched = self._prefetched, None
        else:
            await self.flush()
            row = (await self._conn.execute(q.LOAD_SESSION, {"user_id": self.user_id})).first()
            version, data = (row.version, row.data) if row else (None, None)
        if not self._has_version:
            self._has_version, self._version = True, version
        return Session.from_json(data) if data is not None else None

    async def save_session(self, session: Session) -> None:
        """Store the session; raises StaleSessionError if its version moved since it was loaded
        (PostgreSQL: when it is written, with the replies or before commit)."""
        await self.flush()  # a second save in one transaction expects the first one's version
        if not self._has_version:  # saved without loading: expect what is stored now
            version = (await self._conn.execute(q.SESSION_VERSION, {"user_id": self.user_id})).scalar()
            self._has_version, self._version = True, version
        now, data = self._store.clock(), session.to_json()
        await self._ensure_user()  # a new user, or one starting over after an erasure
        self._prefetched = None
        if self._held is not None:
            self._held.save(self._version, data, now)
            return
        new_version = await self._save_through_sqlalchemy(data, now)
        if new_version is None:
            raise StaleSessionError(self.user_id)
        self._version = new_version

    async def flush(self) -> None:
        """PostgreSQL: write what is held back (pg_raw.Writes). The store calls this before commit."""
        if self._held is not None and self._held.pending:
            version, _ = await self._held.write()
            if version is not None:
                self._version = version

    async def _save_through_sqlalchemy(self, data: str, now: dt.datetime) -> int | None:
        stmt: ReturningInsert[tuple[int]] | ReturningUpdate[tuple[int]]
        params: dict[str, Any] = {"b_user_id": self.user_id, "b_data": data, "b_now": now}
        if self._version is None:
            stmt = q.INSERT_SESSION[self._store.dialect]
        else:
            stmt = q.UPDATE_SESSION
            params["b_version"] = self._version
        return (await self._conn.execute(stmt, params)).scalar()

    async def _ensure_user(self) -> None:
        if not self._known:
            if self._pg is not None:
                await self._pg.execute(pg_raw.ADD_USER, self.user_id, as_utc(self._store.clock()))
            else:
                await self._conn.execute(q.ADD_USER, {"user_id": self.user_id, "now": self._store.clock()})
            self._known = True

    async def add_outbox(self, chat_id: str, replies: list[Reply]) -> list[OutboxItem]:
        """Queue replies to send after commit, claimed by this process for its lease; returns them."""
        if not replies:
            return []
        now = self._store.clock()
        lease = now + self._store.lease
        earlier: list[OutboxItem] = []
        if self._waiting != 0:  # unknown, or replies of theirs still waiting: keep the order
            earlier = await self._take_earlier(now, lease)
        payloads = [r.model_dump_json() for r in replies]
        if self._held is not None:  # with the held session save and processed id, in one statement
            version, ids = await self._held.write((chat_id, now, self._store.worker, lease, payloads))
            if version is not None:
                self._version = version
        else:
            ids = await self._add_through_sqlalchemy(chat_id, payloads, now, lease)
        new = [
            OutboxItem(i, self.user_id, chat_id, r, lease_until=lease)
            for i, r in zip(ids, replies, strict=True)
        ]
        return earlier + new

    async def _add_through_sqlalchemy(
        self, chat_id: str, payloads: list[str], now: dt.datetime, lease: dt.datetime
    ) -> list[int]:
        rows = [
            {
                "user_id": self.user_id,
                "chat_id": chat_id,
                "payload": payload,
                "created_at": now,
                "claimed_by": self._store.worker,
                "lease_until": lease,
            }
            for payload in payloads
        ]
        return list((await self._conn.execute(q.ADD_OUTBOX, rows)).scalars())

    async def _take_earlier(self, now: dt.datetime, lease: dt.datetime) -> list[OutboxItem]:
        """This user's replies still waiting and held by nobody (their delivery failed): claimed now,
        to go before the new ones. One that a sender holds is being sent right now, just ahead."""
        waiting = (await self._conn.execute(q.USERS_OUTBOX, {"user_id": self.user_id})).all()
        if not waiting or any(r.lease_until is not None and r.lease_until >= now for r in waiting):
            return []
        claimed = await self._conn.execute(
            sa.update(outbox)
            .where(outbox.c.id.in_([r.id for r in waiting]))
            .values(claimed_by=self._store.worker, lease_until=lease)
            .returning(*outbox.c)
        )
        return sorted((item_of(r) for r in claimed.all()), key=lambda i: i.id)

    async def save_profile(self, profile: Profile, at: dt.datetime) -> None:
        """Keep a completed profile with its date (for progress over time)."""
        await self._ensure_user()
        await self._conn.execute(
            sa.insert(profiles).values(user_id=self.user_id, created_at=at, data=profile.model_dump_json())
        )

    async def delete_user(self) -> None:
        """Erase everything stored about this user, in every table; their update ids stay, unnamed."""
        await self._conn.execute(
            sa.update(processed_updates)
            .where(processed_updates.c.user_id == self.user_id)
            .values(user_id=None)
        )
        # The circle they set up, with everything in it; their membership and tries in another's.
        await self._conn.execute(sa.delete(circles).where(circles.c.owner_id == self.user_id))
        for table in (circle_log, circle_members, sessions, profiles, outbox, reminders, users):
            await self._conn.execute(sa.delete(table).where(table.c.user_id == self.user_id))
        if self._held is not None:
            self._held.forget_user()
        self._known, self.erased, self._has_version, self._version = False, True, True, None
        self._prefetched, self._waiting = None, 0

    async def add_reminder(self, chat_id: str, due_at: dt.datetime, kind: str) -> int:
        """Schedule a reminder for this user, committed with the rest of the transaction."""
        await self._ensure_user()
        return await add_reminder_row(self._conn, self.user_id, chat_id, due_at, kind)

    async def cancel_reminders(self) -> int:
        """Drop this user's reminders not yet sent; returns how many."""
        return await cancel_reminder_rows(self._conn, self.user_id)

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
            if self._pg is not None:
                await self._pg.execute(pg_raw.BUMP, name[:100])
            else:
                await self._conn.execute(q.BUMP, {"name": name[:100]})


async def add_reminder_row(
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


async def cancel_reminder_rows(conn: AsyncConnection, user_id: str) -> int:
    # Check-ins and progress offers; the circle's daily note has its own switch (SetDigest).
    stmt = (
        sa.delete(reminders)
        .where(reminders.c.user_id == user_id, reminders.c.sent_at.is_(None), reminders.c.kind != DIGEST)
        .returning(reminders.c.id)
    )
    return len((await conn.execute(stmt)).all())
