"""SQLite called on the loop's thread (neuroseq_core/store/sqlite_inline.py): it must never stall the
loop, neither while another connection holds the lock nor for a checkpoint, and must lose nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from neuroseq_core.domain.session import Session
from neuroseq_core.store import sqlite_inline
from neuroseq_core.store.connect import make_engine
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore


def hold_write_lock(path: Path, seconds: float, started: threading.Event) -> threading.Thread:
    """Another connection (as another process would) holding the write lock for `seconds`."""

    def run() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def longest_stall(until: asyncio.Future[object]) -> float:
    """The longest time the loop did not run this ticker, until `until` is done."""
    longest, last = 0.0, time.monotonic()
    while not until.done():
        await asyncio.sleep(0.005)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return longest


async def test_a_locked_database_is_waited_for_without_stalling_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    try:
        started = threading.Event()
        holder = hold_write_lock(path, 0.6, started)
        await asyncio.to_thread(started.wait)
        t0 = time.monotonic()

        async def write() -> None:
            async with store.transaction("u-wait") as tx:
                await tx.save_session(Session(user_id="u-wait", nickname="Robin"))

        task = asyncio.ensure_future(write())
        stall = await longest_stall(task)
        await task
        waited = time.monotonic() - t0
        await asyncio.to_thread(holder.join)
        assert waited >= 0.5  # it did wait for the other connection ...
        assert stall < 0.2  # ... while the loop went on (SQLite's busy handler would have held it)
        async with store.transaction("u-wait") as tx:
            loaded = await tx.load_session()
        assert loaded is not None and loaded.nickname == "Robin"
    finally:
        await store.close()


async def test_a_lock_held_past_the_wait_fails_as_locked_and_the_loop_went_on(tmp_path: Path) -> None:
    path = tmp_path / "stuck.db"
    sqlite3.connect(path).close()
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}", async_creator=sqlite_inline.inline_connector(path, wait=0.3)
    )
    started = threading.Event()
    holder = hold_write_lock(path, 1.0, started)
    try:
        await asyncio.to_thread(started.wait)

        async def write() -> None:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

        task = asyncio.ensure_future(write())
        stall = await longest_stall(task)
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            await task
        assert stall < 0.2
    finally:
        await asyncio.to_thread(holder.join)
        await engine.dispose()


async def test_checkpoints_run_on_a_worker_thread_and_copy_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[tuple[int, tuple[int, int, int]]] = []
    original = sqlite_inline._checkpoint

    def recording(path: Path, mode: str, wait_ms: int) -> tuple[int, int, int]:
        result = original(path, mode, wait_ms)
        ran.append((threading.get_ident(), result))
        return result

    monkeypatch.setattr(sqlite_inline, "_checkpoint", recording)
    path = tmp_path / "ckpt.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    assert isinstance(store, SqlStore)
    try:
        for i in range(sqlite_inline.CHECKPOINT_EVERY * 2 + 1):
            async with store.transaction(f"u-{i}") as tx:
                await tx.save_session(Session(user_id=f"u-{i}", nickname="Robin"))
        for _ in range(200):
            if len(ran) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await store.close()
    assert len(ran) >= 2  # one per CHECKPOINT_EVERY commits
    assert all(thread != threading.get_ident() for thread, _ in ran)  # never on the loop's thread
    assert any(copied > 0 for _, (_busy, _frames, copied) in ran)
    # Nothing was lost: every session is there after the store closed.
    conn = sqlite3.connect(path)
    try:
        assert (
            conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
            == sqlite_inline.CHECKPOINT_EVERY * 2 + 1
        )
    finally:
        conn.close()


async def test_automatic_checkpoints_are_off_and_the_driver_is_the_inline_one(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'settings.db'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, sqlite_inline.InlineConnection)
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 0
    finally:
        await engine.dispose()
