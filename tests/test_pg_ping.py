"""PostgreSQL connections pinged only after sitting idle (store/connect.py `_ping_when_idle`): a pooled
connection the server dropped is replaced before use once it has been idle, and costs one failed,
retried operation at most when it was used a moment ago."""

from __future__ import annotations

import asyncpg
import pytest

from neuroseq_core.domain.session import Session
from neuroseq_core.store import connect, pg_raw
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore
from pg import _admin

KILL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


async def save(store: SqlStore, user_id: str, nickname: str) -> None:
    async with store.transaction(user_id) as tx:
        await tx.save_session(Session(user_id=user_id, nickname=nickname))


async def nickname(store: SqlStore, user_id: str) -> str | None:
    async with store.transaction(user_id) as tx:
        session = await tx.load_session()
    return session.nickname if session else None


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connect, "PING_AFTER_IDLE", 0.0)  # every connection counts as idle
    store = await open_store(postgres_url)
    assert isinstance(store, SqlStore)
    try:
        await save(store, "u-ping-1", "Robin")
        await _admin(postgres_url, KILL)  # the server drops our pooled connection
        await save(store, "u-ping-1", "Robin B")  # the ping finds it dead; a fresh one is used
        assert await nickname(store, "u-ping-1") == "Robin B"
    finally:
        await store.close()


async def test_a_busy_connection_is_not_pinged_and_a_drop_costs_one_retried_operation(
    postgres_url: str,
) -> None:
    store = await open_store(postgres_url)
    assert isinstance(store, SqlStore)
    pings = 0
    original = store.engine.dialect.do_ping

    def counting(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return original(dbapi_connection)  # type: ignore[arg-type]

    store.engine.dialect.do_ping = counting  # type: ignore[method-assign]
    try:
        for i in range(20):
            await save(store, "u-ping-2", f"Sam {i}")
        assert pings == 0  # in use a moment ago: no round trip spent on a ping
        await _admin(postgres_url, KILL)
        # BEGIN, on asyncpg, finds it gone and it is dropped. Which error depends on whether asyncpg has
        # seen the socket close yet or only the server's goodbye ("another operation is in progress").
        with pytest.raises((asyncpg.InterfaceError, asyncpg.InternalClientError)):
            await save(store, "u-ping-2", "lost")
        await save(store, "u-ping-2", "Sam again")  # what polling, the webhook and the sender do
        assert await nickname(store, "u-ping-2") == "Sam again"
    finally:
        await store.close()


class _FailingBegin:
    """An asyncpg connection as it is when the server's goodbye was read before the socket closed: it
    says it is open and in no transaction, and its next statement fails."""

    def __init__(self, driver: pg_raw.Driver) -> None:
        self.driver = driver

    async def execute(self, query: str, *args: object) -> str:
        if query == "BEGIN":
            raise asyncpg.InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            )
        return await self.driver.execute(query, *args)

    def is_in_transaction(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return False


async def backend_pid(store: SqlStore) -> int:
    async with connect.begin(store.engine) as conn:
        return int(await (await pg_raw.driver_of(conn)).fetchval("SELECT pg_backend_pid()"))  # type: ignore[attr-defined]


async def test_a_connection_that_failed_on_its_own_is_dropped_even_if_it_says_it_is_fine(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(postgres_url)
    assert isinstance(store, SqlStore)
    try:
        before = {await backend_pid(store) for _ in range(5)}  # one at a time: the same connection
        real = pg_raw.driver_of

        async def failing(conn: object) -> object:
            return _FailingBegin(await real(conn))  # type: ignore[arg-type]

        monkeypatch.setattr(pg_raw, "driver_of", failing)
        with pytest.raises(asyncpg.InternalClientError):
            await save(store, "u-ping-3", "lost")
        monkeypatch.setattr(pg_raw, "driver_of", real)
        after = {await backend_pid(store) for _ in range(5)}
        assert len(before) == len(after) == 1
        assert after != before  # the connection was dropped, not handed out again
        await save(store, "u-ping-3", "Alex")
        assert await nickname(store, "u-ping-3") == "Alex"
    finally:
        await store.close()
