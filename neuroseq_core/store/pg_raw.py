"""PostgreSQL: the statements of every update and every delivery, on asyncpg directly.

They run on the asyncpg connection under SQLAlchemy's, inside the transaction SQLAlchemy began (its first
statement, which locks the user's row, goes through SQLAlchemy and starts it), so commit, rollback, the
pool and the retries stay SQLAlchemy's. Why: one update's statements cost 1.54 ms of the bot's CPU
through SQLAlchemy's layers and 0.40 ms on asyncpg (a microbenchmark of the same statements, in
sequence); with the bot the bottleneck on a 2-CPU machine, that was the difference between 0.70 and the
0.8 x the bare bot that bench/bench_e2e.py asks for. The same SQL as statements.py, in asyncpg's $n form.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from sqlalchemy.ext.asyncio import AsyncConnection


class Driver(Protocol):
    """The part of asyncpg.Connection used here (asyncpg ships no type hints)."""

    async def fetchrow(self, query: str, *args: object) -> Any: ...

    async def fetchval(self, query: str, *args: object) -> Any: ...

    async def fetch(self, query: str, *args: object) -> list[Any]: ...

    async def execute(self, query: str, *args: object) -> str: ...


async def driver_of(conn: AsyncConnection) -> Driver:
    """The asyncpg connection under a SQLAlchemy one."""
    pooled = await conn.get_raw_connection()
    return cast(Driver, pooled.driver_connection)


# statements.SEEN_AND_SESSION: whether the update was handled, the session, and this user's waiting
# replies, in one round trip. $1 update id, $2 user id.
SEEN_AND_SESSION = (
    "SELECT (SELECT 1 FROM processed_updates WHERE update_id = $1) AS seen, s.version, s.data, "
    "(SELECT count(*) FROM outbox WHERE user_id = $2) AS waiting "
    "FROM (SELECT 1 AS one) AS x LEFT OUTER JOIN sessions s ON s.user_id = $2"
)
# statements.UPDATE_SESSION: $1 user id, $2 the version read, $3 data, $4 now.
UPDATE_SESSION = (
    "UPDATE sessions SET version = sessions.version + 1, data = $3, updated_at = $4 "
    "WHERE sessions.user_id = $1 AND sessions.version = $2 RETURNING sessions.version"
)
# statements.INSERT_SESSION: $1 user id, $2 data, $3 now.
INSERT_SESSION = (
    "INSERT INTO sessions (user_id, version, data, updated_at) VALUES ($1, 1, $2, $3) "
    "ON CONFLICT (user_id) DO NOTHING RETURNING sessions.version"
)
# statements.MARK_SEEN: $1 update id, $2 user id or NULL, $3 now.
MARK_SEEN = (
    "INSERT INTO processed_updates (update_id, user_id, handled_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (update_id) DO NOTHING"
)
# statements.ADD_OUTBOX, every reply of the update in one statement: $1 user id, $2 chat id, $3 now,
# $4 this process, $5 its lease, $6 the payloads in order. Ids come from the sequence in the order the
# rows are produced (ORDER BY n), so the sorted ids are the replies' order.
ADD_OUTBOX = (
    "INSERT INTO outbox (user_id, chat_id, payload, created_at, claimed_by, lease_until) "
    "SELECT $1::varchar, $2::varchar, t.payload, $3::timestamptz, $4::varchar, $5::timestamptz "
    "FROM unnest($6::text[]) WITH ORDINALITY AS t(payload, n) ORDER BY t.n RETURNING id"
)
# statements.DELETE_OUTBOX, outside any transaction (it commits by itself): $1 the row's id.
DELETE_OUTBOX = "DELETE FROM outbox WHERE id = $1"
