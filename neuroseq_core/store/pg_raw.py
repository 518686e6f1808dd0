"""PostgreSQL: the statements of every update and every delivery, on asyncpg directly.

They run on the asyncpg connection under SQLAlchemy's, inside the transaction store/connect.py's `begin`
opened on it (SQLAlchemy's PostgreSQL engine is in autocommit mode and begins nothing itself), so the
rarer statements that still go through SQLAlchemy share it; the pool and the retries stay SQLAlchemy's.
The same SQL as statements.py, in asyncpg's $n form; the session save, the processed id and the replies
go in one statement (`Writes`).

Why: with the bot's process the bottleneck (2 CPUs shared with the driver and the server), bench_e2e
at 40 users measured 0.70 x the bare bot through SQLAlchemy (bot CPU 7.3-8.0 ms per update against
the floor's 5.1-5.6). A microbenchmark of one update's transaction: 1.54 ms of CPU through SQLAlchemy,
0.40 ms for the same statements on asyncpg.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncConnection

from neuroseq_core.domain.clock import as_utc
from neuroseq_core.store.base import StaleSessionError


class Driver(Protocol):
    """The part of asyncpg.Connection used here (asyncpg ships no type hints)."""

    async def fetchrow(self, query: str, *args: object) -> Any: ...

    async def execute(self, query: str, *args: object) -> str: ...

    def is_in_transaction(self) -> bool: ...

    def is_closed(self) -> bool: ...


def is_connection_fault(exc: BaseException) -> bool:
    """A failure of the connection itself, not of a statement PostgreSQL ran.

    When the server drops a connection, asyncpg may read the server's goodbye before it sees the
    socket close: the next statement then fails with InternalClientError ("another operation is in
    progress") rather than InterfaceError ("connection is closed"), and the connection reports itself
    open and out of any transaction. Either way it is no use any more.
    """
    faults = (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError, OSError)
    return isinstance(exc, faults)


async def driver_of(conn: AsyncConnection) -> Driver:
    """The asyncpg connection under a SQLAlchemy one."""
    pooled = await conn.get_raw_connection()
    return cast(Driver, pooled.driver_connection)


# statements.TOUCH_KNOWN_USER, LOCK_KNOWN_USER, LOCK_NEW_USER, ADD_USER and BUMP. $1 user id (or the
# counter's name), $2 now.
TOUCH_KNOWN_USER = (
    "UPDATE users SET active = true, last_seen_at = $2::timestamptz WHERE user_id = $1 RETURNING user_id"
)
LOCK_KNOWN_USER = "SELECT user_id FROM users WHERE user_id = $1 FOR UPDATE"
LOCK_NEW_USER = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
ADD_USER = (
    "INSERT INTO users (user_id, active, created_at, last_seen_at) "
    "VALUES ($1, true, $2::timestamptz, $2::timestamptz) "
    "ON CONFLICT (user_id) DO UPDATE SET active = true, last_seen_at = excluded.last_seen_at"
)
BUMP = (
    "INSERT INTO counters (name, value) VALUES ($1, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1"
)

# statements.SEEN_AND_SESSION: whether the update was handled, the session, and this user's waiting
# replies and how many of them a sender holds, in one round trip. $1 update id, $2 user id, $3 soon.
SEEN_AND_SESSION = (
    "SELECT (SELECT 1 FROM processed_updates WHERE update_id = $1) AS seen, s.version, s.data, "
    "(SELECT count(*) FROM outbox WHERE user_id = $2) AS waiting, "
    "(SELECT count(*) FROM outbox WHERE user_id = $2 AND lease_until > $3::timestamptz) AS held "
    "FROM (SELECT 1 AS one) AS x LEFT OUTER JOIN sessions s ON s.user_id = $2"
)


class Writes:
    """One transaction's session save and processed update id, held back and written with its replies
    in a single statement (or alone, just before commit): one round trip where there were three. Every
    round trip costs the bot's process about 0.1 ms of CPU (a send, a wake-up, a read).

    Safe to hold back: nothing in an update's transaction reads the session row or the processed id
    after writing them (a read of the session writes what is held first), and a stale session still
    raises StaleSessionError before the transaction commits.
    """

    def __init__(self, driver: Driver, user_id: str) -> None:
        self._driver = driver
        self._user_id = user_id
        self._save: tuple[int | None, str, dt.datetime] | None = None  # expected version, data, now
        self._seen: tuple[int, str | None, dt.datetime] | None = None  # update id, owner, now

    @property
    def pending(self) -> bool:
        """Something is held back."""
        return self._save is not None or self._seen is not None

    def save(self, version: int | None, data: str, now: dt.datetime) -> None:
        """Hold back a session save (version None: a new session)."""
        self._save = (version, data, as_utc(now))

    def seen(self, update_id: int, owner: str | None, now: dt.datetime) -> None:
        """Hold back the processed update id."""
        self._seen = (update_id, owner, as_utc(now))

    def forget_user(self) -> None:
        """The user erased everything in this transaction: their session is not written, and the
        processed id, if held, names nobody."""
        self._save = None
        if self._seen is not None:
            self._seen = (self._seen[0], None, self._seen[2])

    async def write(
        self, outbox: tuple[str, dt.datetime, str, dt.datetime, list[str]] | None = None
    ) -> tuple[int | None, list[int]]:
        """Write what is held, with `outbox` (chat id, now, worker, lease, payloads) if given; returns the
        session's new version (None if no save was held) and the new outbox ids, in order."""
        # The SQL is put together from the constant pieces below; every value goes as a $n parameter
        # (hence the S608 exemptions: no value is ever part of the text).
        args: list[object] = []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        parts, version, ids = [], "NULL::integer", "NULL::bigint[]"
        if self._save is not None:
            expected, data, now = self._save
            if expected is None:
                parts.append(
                    "s AS (INSERT INTO sessions (user_id, version, data, updated_at) "  # noqa: S608
                    f"VALUES ({arg(self._user_id)}, 1, {arg(data)}, {arg(now)}) "
                    "ON CONFLICT (user_id) DO NOTHING RETURNING sessions.version)"
                )
            else:
                parts.append(
                    f"s AS (UPDATE sessions SET version = sessions.version + 1, data = {arg(data)}, "  # noqa: S608
                    f"updated_at = {arg(now)} WHERE sessions.user_id = {arg(self._user_id)} "
                    f"AND sessions.version = {arg(expected)} RETURNING sessions.version)"
                )
            version = "(SELECT version FROM s)"
        if self._seen is not None:
            update_id, owner, now = self._seen
            parts.append(
                "p AS (INSERT INTO processed_updates (update_id, user_id, handled_at) "  # noqa: S608
                f"VALUES ({arg(update_id)}::bigint, {arg(owner)}::varchar, {arg(now)}::timestamptz) "
                "ON CONFLICT (update_id) DO NOTHING)"
            )
        if outbox is not None:
            chat_id, now, worker, lease, payloads = outbox
            parts.append(
                "o AS (INSERT INTO outbox (user_id, chat_id, payload, created_at, claimed_by, lease_until) "  # noqa: S608
                f"SELECT {arg(self._user_id)}::varchar, {arg(chat_id)}::varchar, t.payload, "
                f"{arg(as_utc(now))}::timestamptz, {arg(worker)}::varchar, {arg(as_utc(lease))}::timestamptz "
                f"FROM unnest({arg(payloads)}::text[]) WITH ORDINALITY AS t(payload, n) ORDER BY t.n "
                "RETURNING id)"
            )
            ids = "ARRAY(SELECT id FROM o)"
        saved = self._save is not None
        self._save = self._seen = None
        if not parts:
            return None, []
        row = await self._driver.fetchrow(f"WITH {', '.join(parts)} SELECT {version}, {ids}", *args)
        new_version, new_ids = row
        if saved and new_version is None:
            raise StaleSessionError(self._user_id)
        # Ids come from the sequence in the order the rows are produced (ORDER BY n): sorted, they are
        # the replies' order.
        return new_version, sorted(int(i) for i in new_ids or [])


# Delivered replies, several at once, outside any transaction (it commits by itself): $1 their ids.
DELETE_OUTBOX = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
