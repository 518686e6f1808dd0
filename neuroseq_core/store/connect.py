"""Connecting: an async engine for a SQLite or PostgreSQL URL, and transactions on it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from neuroseq_core.store import pg_raw
from neuroseq_core.store.sqlite_inline import inline_connector

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a statement waits this long for another process's lock before failing
CONNECT_TIMEOUT = 10  # seconds to reach PostgreSQL
PING_AFTER_IDLE = 10.0  # seconds a pooled PostgreSQL connection may sit unused before it is pinged
# PostgreSQL connections per process, all kept open. SQLAlchemy's default (5, and 10 more "overflow"
# connections closed as soon as they are returned) opened and closed a connection every few updates
# under load: 73 connections for 360 updates with 40 users, each a login, a setup query and a cold
# statement cache. SqlStore queues its callers for these before asking the pool (store/sql.py).
PG_POOL_SIZE = 10
_USED = "neuroseq_used_at"


def _normalise_url(url: str) -> URL:
    sa_url = make_url(url)
    backend = sa_url.get_backend_name()
    if backend == "postgresql" and sa_url.get_driver_name() != "asyncpg":
        return sa_url.set(drivername="postgresql+asyncpg")
    if backend == "sqlite" and sa_url.get_driver_name() != "aiosqlite":
        return sa_url.set(drivername="sqlite+aiosqlite")
    if backend not in ("postgresql", "sqlite"):
        raise ValueError(
            f"unsupported database URL scheme {sa_url.drivername!r}: "
            "use sqlite+aiosqlite:///path, postgresql+asyncpg://… or memory://"
        )
    return sa_url


def make_engine(url: str) -> AsyncEngine:
    """An async engine for a SQLite or PostgreSQL URL, with the connection settings this store relies on."""
    sa_url = _normalise_url(url)
    if sa_url.get_backend_name() == "postgresql":
        # A server that does not answer is reported in seconds, not after asyncpg's default minute.
        # AUTOCOMMIT: SQLAlchemy begins no transaction of its own; `begin` below opens and closes ours on
        # asyncpg directly, so an update's statements on asyncpg and through SQLAlchemy share one.
        pg_engine = create_async_engine(
            sa_url,
            connect_args={"timeout": CONNECT_TIMEOUT},
            pool_size=PG_POOL_SIZE,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
        )
        _ping_when_idle(pg_engine)
        return pg_engine
    database = sa_url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(sa_url.query):
        # Each pooled connection would see its own empty database.
        raise ValueError("in-memory SQLite is not supported by the SQL store: use memory:// instead")
    path = Path(database).expanduser()
    private_file(path)
    # sqlite3 called on the loop's thread, not through aiosqlite's helper thread (store/sqlite_inline.py).
    engine = create_async_engine(sa_url, async_creator=inline_connector(path, SQLITE_BUSY_TIMEOUT_MS / 1000))
    _install_sqlite_hooks(engine)
    return engine


def private_file(path: Path) -> None:
    """Make `path` readable by its owner only, whatever the umask: the folders we create are 0700,
    the file 0600. SQLite gives its -wal and -shm files the database file's own mode, so children's
    data is never readable by other accounts on the machine. A folder that already exists is left
    as it is (it may be shared, like /tmp); only what we create is ours to restrict."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)  # also an older database created with the umask's mode
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if extra.exists():
            os.chmod(extra, 0o600)


def _ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's pool_pre_ping, but only for a connection unused for PING_AFTER_IDLE seconds.

    A ping is a round trip: on every checkout it cost 0.4 ms of the bot's CPU per update's transaction
    and 0.3 ms per message marked sent (bench: 2.27 -> 1.88 and 0.65 -> 0.31 ms). A connection that
    served a moment ago is almost surely alive; if the server restarted in between, the statement
    fails as a disconnect, SQLAlchemy drops the pool's older connections, and the update is retried
    (polling, webhook and the sender's mark-sent all retry). A failed ping here makes the pool take
    a fresh connection, as pool_pre_ping does."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the driver's own error for a dead connection
            raise sa.exc.DisconnectionError("ping failed") from exc
        if not alive:
            raise sa.exc.DisconnectionError("ping failed")

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """SQLAlchemy's recipe for SQLite transactions: the driver emits no BEGIN; we emit our own.

    That makes transactions real (reads included, DDL too) and lets a writer take the write lock up front
    with BEGIN IMMEDIATE instead of failing later when a read lock cannot be upgraded.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",  # readers never block the writer, and the reverse
            "busy_timeout=0",  # never sleep on the loop: the driver waits for a lock with asyncio.sleep
            "wal_autocheckpoint=0",  # nor checkpoint on it: the driver does, on a worker thread
            "foreign_keys=ON",  # off by default in SQLite; ON DELETE CASCADE needs it
            "synchronous=NORMAL",  # with WAL: safe against a crash of the bot, not of the machine
            "secure_delete=ON",  # deleted rows are overwritten, not left in free pages (erasure)
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("neuroseq_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


@asynccontextmanager
async def begin(engine: AsyncEngine, write: bool = True) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction: committed on normal exit, rolled back on an exception."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            async with _pg_transaction(conn):
                yield conn
            return
        if write:  # read by SQLite's BEGIN hook (_install_sqlite_hooks)
            await conn.execution_options(neuroseq_write=True)
        async with conn.begin():
            yield conn


@asynccontextmanager
async def _pg_transaction(conn: AsyncConnection) -> AsyncIterator[None]:
    """PostgreSQL: BEGIN and COMMIT (or ROLLBACK) sent on asyncpg directly.

    SQLAlchemy's own transaction costs the bot's process more CPU than the statements in it (its
    begin, commit and greenlet hops, for two short round trips); the engine is in autocommit mode, so
    SQLAlchemy's statements in the block run inside this transaction too. A connection whose
    transaction could not be ended cleanly (lost, or a cancelled statement still running) is
    invalidated: the pool never hands out one with a transaction open.
    """
    driver = await pg_raw.driver_of(conn)
    try:
        await driver.execute("BEGIN")  # the first round trip: where a connection the server dropped fails
        yield
        # A transaction in which a statement failed ends in a rollback, whatever COMMIT says.
        if await driver.execute("COMMIT") != "COMMIT":
            raise RolledBackError("the transaction was rolled back: one of its statements had failed")
    except BaseException as exc:
        await _abandon(conn, driver, broken=pg_raw.is_connection_fault(exc))
        raise


class RolledBackError(RuntimeError):
    """COMMIT found the transaction already failed, and PostgreSQL rolled it back."""


async def _abandon(conn: AsyncConnection, driver: pg_raw.Driver, broken: bool) -> None:
    """Roll back what is open, or drop the connection if that cannot be done (or the failure was the
    connection's own). Never raises: the caller's own error is the one to report."""
    try:
        if broken:
            raise ConnectionError
        if not driver.is_closed() and driver.is_in_transaction():
            await driver.execute("ROLLBACK")
        if not driver.is_closed() and not driver.is_in_transaction():
            return
    except BaseException:  # noqa: S110 - lost, or cancelled meanwhile: the connection goes
        pass
    with contextlib.suppress(BaseException):
        await conn.invalidate()
