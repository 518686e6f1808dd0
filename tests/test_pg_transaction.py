"""PostgreSQL transactions opened and closed on asyncpg (store/connect.py `begin`): SQLAlchemy's engine is
in autocommit mode, so what holds must hold by our BEGIN/COMMIT/ROLLBACK alone. Statements through
SQLAlchemy and on asyncpg commit or roll back together; a failure anywhere leaves nothing written; and
no pooled connection is ever handed out with a transaction still open (which would hold row locks and
mix one update's writes into the next)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy as sa

from neuroseq_core.domain.session import Session
from neuroseq_core.store import pg_raw
from neuroseq_core.store.connect import PG_POOL_SIZE, RolledBackError
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore
from neuroseq_core.store.tables import counters, reminders, sessions, users

DUE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
)


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(postgres_url)
    assert isinstance(opened, SqlStore)
    try:
        yield opened
    finally:
        await opened.close()


async def scalar(store: SqlStore, query: sa.Select[tuple[object]] | sa.TextClause) -> object:
    async with store.engine.connect() as conn:
        return (await conn.execute(query)).scalar()


async def count(store: SqlStore, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    return int(str(await scalar(store, sa.select(sa.func.count()).select_from(table).where(where))))


async def open_transactions(store: SqlStore) -> int:
    """Our connections the server sees sitting inside a transaction."""
    return int(str(await scalar(store, sa.text(IDLE_IN_TRANSACTION))))


async def test_sqlalchemy_and_asyncpg_statements_commit_together(store: SqlStore) -> None:
    async with store.transaction("u-tx-1") as tx:
        await tx.save_session(Session(user_id="u-tx-1", nickname="Robin"))  # users row via asyncpg
        await tx.bump(["tx.test"])  # asyncpg
        await tx.add_reminder("u-tx-1", DUE, "checkin")  # through SQLAlchemy
    assert await count(store, users, users.c.user_id == "u-tx-1") == 1
    assert await scalar(store, sa.select(counters.c.value).where(counters.c.name == "tx.test")) == 1
    assert await count(store, sessions, sessions.c.user_id == "u-tx-1") == 1
    assert await count(store, reminders, reminders.c.user_id == "u-tx-1") == 1


async def test_an_error_in_the_block_rolls_back_both_kinds_of_statement(store: SqlStore) -> None:
    with pytest.raises(RuntimeError, match="the handler failed"):
        async with store.transaction("u-tx-2") as tx:
            await tx.save_session(Session(user_id="u-tx-2", nickname="Sam"))
            await tx.bump(["tx.rolled"])
            await tx.add_reminder("u-tx-2", DUE, "checkin")
            raise RuntimeError("the handler failed")
    assert await count(store, users, users.c.user_id == "u-tx-2") == 0
    assert await count(store, counters, counters.c.name == "tx.rolled") == 0
    assert await count(store, reminders, reminders.c.user_id == "u-tx-2") == 0
    assert await open_transactions(store) == 0
    async with store.transaction("u-tx-2") as tx:  # the connection is clean and usable
        await tx.save_session(Session(user_id="u-tx-2", nickname="Sam"))
    assert await scalar(store, sa.select(sessions.c.version).where(sessions.c.user_id == "u-tx-2")) == 1


async def test_a_failed_statement_whose_error_was_caught_still_fails_the_commit(store: SqlStore) -> None:
    with pytest.raises(RolledBackError):
        async with store.transaction("u-tx-3") as tx:
            await tx.bump(["tx.before"])
            with pytest.raises(asyncpg.PostgresError):
                await tx._pg.execute("SELECT 1 / 0")  # type: ignore[union-attr]
            # Everything after it fails too, until the transaction ends; COMMIT would say ROLLBACK.
    assert await count(store, counters, counters.c.name == "tx.before") == 0
    assert await open_transactions(store) == 0


async def test_a_cancelled_transaction_leaves_no_connection_inside_one(store: SqlStore) -> None:
    async def slow() -> None:
        async with store.transaction("u-tx-4") as tx:
            await tx.bump(["tx.cancelled"])
            driver: pg_raw.Driver | None = tx._pg
            assert driver is not None
            await driver.execute("SELECT pg_sleep(5)")

    for _ in range(3):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), timeout=0.2)
    await asyncio.sleep(0.2)  # the server's side of the cancelled statement ends
    assert await open_transactions(store) == 0

    # Every pooled connection is usable: as many transactions at once as the pool holds.
    async def one(i: int) -> None:
        async with store.transaction(f"u-tx-5-{i}") as tx:
            await tx.save_session(Session(user_id=f"u-tx-5-{i}", nickname="Ada"))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(one(i) for i in range(PG_POOL_SIZE)))
    assert await count(store, sessions, sessions.c.user_id.like("u-tx-5-%")) == PG_POOL_SIZE
    assert await count(store, counters, counters.c.name == "tx.cancelled") == 0
