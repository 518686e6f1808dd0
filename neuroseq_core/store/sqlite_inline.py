"""SQLite on the event loop's own thread: the connections SQLAlchemy's aiosqlite dialect is given.

aiosqlite runs every call on a helper thread and hands the result back through the event loop: three or
four hops per statement, about 4 ms of CPU for one update's transaction where the same statements
cost 0.7 ms called directly (bench/bench_e2e.py: SQLite used 5.5 ms more CPU per update than the
memory store). A local SQLite statement takes microseconds, so this driver calls sqlite3 directly,
and keeps the two things that could stall the loop off it:

- **Waiting for a lock.** The connection's busy timeout is 0, so SQLite never sleeps in its busy handler.
  A statement that finds the database locked by another process (a CLI command, a backup) is retried
  here with `asyncio.sleep`, for up to the same 30 s a busy timeout gave, while other chats go on.
  Within one process, writers already queue on an asyncio lock (store/sql.py), so this is rare.
- **Checkpoints**, which copy the log into the database and fsync it. Automatic checkpoints are off on
  these connections; every CHECKPOINT_EVERY commits a PASSIVE checkpoint runs on a worker thread, on
  its own connection (SQLite releases the GIL while it works). `checkpoint_now` is the TRUNCATE one
  after an erasure, also on a thread.

SQLAlchemy's adapter (sqlalchemy/dialects/sqlite/aiosqlite.py) awaits `cursor()`, `execute`,
`fetchall`, `commit`, `rollback`, `close`, `create_function`, reads `isolation_level`, and sets it by
putting `(future, function)` on `_tx` with the raw connection as `_conn`: that is the surface below.
tests/test_sqlite_inline.py holds it to that, and to the loop staying free while another process
holds the lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECKPOINT_EVERY = 64  # commits between two background PASSIVE checkpoints (about 300-600 pages)
_RETRY_FIRST, _RETRY_MAX = 0.001, 0.05  # seconds between tries while another process holds the lock
_BUSY = {5, 261}  # SQLITE_BUSY, SQLITE_BUSY_RECOVERY; not BUSY_SNAPSHOT (517): retrying cannot help


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _BUSY


async def _patiently(wait: float, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, tried again while the database is locked by someone else, up to `wait` seconds."""
    deadline: float | None = None
    delay = _RETRY_FIRST
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + wait
            if now >= deadline:
                raise
            await asyncio.sleep(min(delay, deadline - now))
            delay = min(delay * 2, _RETRY_MAX)


class Checkpointer:
    """Background PASSIVE checkpoints for one database file, one at a time."""

    def __init__(self, path: Path, every: int = CHECKPOINT_EVERY) -> None:
        self.path = path
        self.every = every
        self._commits = 0
        self._running: asyncio.Task[None] | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits < self.every or (self._running is not None and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().create_task(self.run("PASSIVE"))

    async def run(self, mode: str, wait_ms: int = 0) -> None:
        try:
            await asyncio.to_thread(_checkpoint, self.path, mode, wait_ms)
        except sqlite3.Error as exc:
            log.warning("checkpoint failed", extra={"mode": mode, "error": type(exc).__name__})


def _checkpoint(path: Path, mode: str, wait_ms: int) -> tuple[int, int, int]:
    """SQLite's answer: (1 if it could not finish, frames in the log, frames copied)."""
    conn = sqlite3.connect(path, timeout=wait_ms / 1000, isolation_level=None, check_same_thread=False)
    try:
        busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(busy), int(frames), int(copied)
    finally:
        conn.close()


class _RunNow:
    """Stands for aiosqlite's request queue, where SQLAlchemy puts its isolation_level setter."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineCursor:
    """aiosqlite's Cursor, answered at once."""

    def __init__(self, cursor: sqlite3.Cursor, wait: float) -> None:
        self._cursor = cursor
        self._wait = wait

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await _patiently(self._wait, self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        await _patiently(self._wait, self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """aiosqlite's Connection, answered at once on the calling thread."""

    def __init__(self, raw: sqlite3.Connection, wait: float, checkpointer: Checkpointer) -> None:
        self._conn = raw
        self._tx = _RunNow()
        self._wait = wait
        self._checkpointer = checkpointer

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._wait)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        was_open = self._conn.in_transaction
        await _patiently(self._wait, self._conn.commit)
        if was_open:
            self._checkpointer.committed()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def inline_connector(path: Path, wait: float) -> Callable[[], Any]:
    """SQLAlchemy's `async_creator` for one database file; each connection waits up to `wait` s for a lock."""
    checkpointer = Checkpointer(path)
    # Timeout 0: SQLite's busy handler never sleeps on the loop (store/connect.py also sets busy_timeout=0
    # and turns automatic checkpoints off). check_same_thread off: a connection may be closed elsewhere.
    opener = partial(sqlite3.connect, path, timeout=0.0, isolation_level=None, check_same_thread=False)

    async def connect() -> InlineConnection:
        return InlineConnection(await _patiently(wait, opener), wait, checkpointer)

    return connect


async def checkpoint_now(path: Path, mode: str = "TRUNCATE", wait_ms: int = 1000) -> None:
    """A checkpoint on a worker thread (after an erasure: TRUNCATE, so the log keeps no erased row)."""
    await Checkpointer(path).run(mode, wait_ms)


__all__ = [
    "CHECKPOINT_EVERY",
    "Checkpointer",
    "InlineConnection",
    "InlineCursor",
    "checkpoint_now",
    "inline_connector",
]
