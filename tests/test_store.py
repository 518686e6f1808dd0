"""The store, on memory, SQLite (a temp file) and PostgreSQL (fixture `postgres_url` from tests/pg.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroseq_core.domain.events import Button, Reply
from neuroseq_core.domain.session import LevelResult, Profile, Session
from neuroseq_core.store.base import Store
from neuroseq_core.store.connect import make_engine
from neuroseq_core.store.locks import KeyedLock
from neuroseq_core.store.memory import CLAIM_TIMEOUT, MemoryStore, StaleSessionError
from neuroseq_core.store.migrate import upgrade
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore
from neuroseq_core.store.tables import CIRCLE_TABLES, SHARED_TABLES, USER_TABLES, metadata
from pg import create_database, drop_database

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def store_pace(store: MemoryStore) -> list[tuple[str, float]]:
    return list(store._pace.items())


class Clock:
    """A settable clock."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Backend:
    name: str
    url: str
    opened: list[Store] = field(default_factory=list)
    _memory: MemoryStore | None = None

    async def open(self, clock: Callable[[], dt.datetime] | None = None) -> Store:
        """A store; for memory, 'reopening' gives the same instance (it is the process's memory)."""
        if self.name == "memory":
            if self._memory is None:
                self._memory = MemoryStore()
            if clock is not None:
                self._memory.clock = clock
            return self._memory
        store = await open_store(self.url, clock=clock) if clock else await open_store(self.url)
        self.opened.append(store)
        return store

    async def rows(self, table: str) -> list[tuple[object, ...]]:
        """Every row of a table, read directly (not through the store's API)."""
        if self.name == "memory":
            assert self._memory is not None
            state = self._memory._state
            data = {
                "users": [(k, v) for k, v in state.users.items()],
                "sessions": [(k, v) for k, v in state.sessions.items()],
                "profiles": [(k, v) for k, v in state.profiles.items()],
                "processed_updates": [(k, v) for k, v in state.processed.items()],
                "outbox": [(k, v) for k, v in state.outbox.items()],
                "reminders": [(k, v) for k, v in state.reminders.items()],
                "counters": list(state.counters.items()),
                "pace": list(store_pace(self._memory)),
                "circles": [(k, v) for k, v in state.circles.circles.items()],
                "circle_members": [(k, v) for k, v in state.circles.members.items()],
                "circle_invites": [(k, v) for k, v in state.circles.invites.items()],
                "circle_log": [(k, v) for k, v in state.circles.log.items()],
            }[table]
            return [tuple(r) for r in data]
        engine = make_engine(self.url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text(f"SELECT * FROM {table}"))  # table names are ours
                return [tuple(r) for r in result]
        finally:
            await engine.dispose()

    async def table_names(self) -> list[str]:
        """The tables that really exist in the database (not the ones the code expects)."""
        if self.name == "memory":
            return [*USER_TABLES, *CIRCLE_TABLES, *SHARED_TABLES]
        engine = make_engine(self.url)
        try:
            async with engine.connect() as conn:
                names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return [n for n in names if n != "alembic_version"]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        b = Backend("memory", "memory://")
    elif request.param == "sqlite":
        b = Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'folder' / 'neuroseq.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        await upgrade(url)
        engine = make_engine(url)  # one database per test session: empty it for each test
        async with engine.begin() as conn:
            tables = ", ".join([*USER_TABLES, *CIRCLE_TABLES, *SHARED_TABLES])
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        b = Backend("postgres", url)
    yield b
    for store in b.opened:
        await store.close()


def a_profile(start: str = "sensory") -> Profile:
    return Profile(
        levels=[LevelResult(level="sensory", band="some_support", answered=4, mean_concern=1.5)],
        start_level=start,
        start_step="regulate",
        start_on_track=False,
        referrals=["sleep"],
    )


def a_reply(text: str) -> Reply:
    return Reply(text=text, choices=[Button(id="yes", label="Yes")], token="t1", kind="question")


async def test_session_round_trip(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction("u1") as tx:
        assert await tx.load_session() is None
        session = Session(user_id="u1", state="asking", answers={"q1": "often", "q2": None}, nickname="Ré ✨")
        await tx.save_session(session)
        assert await tx.load_session() == session  # reads its own write
    async with store.transaction("u1") as tx:
        loaded = await tx.load_session()
        assert loaded == session
        assert loaded is not None
        await tx.save_session(loaded.model_copy(update={"state": "done"}))
        await tx.save_session(loaded.model_copy(update={"state": "done2"}))  # twice in one transaction
    async with store.transaction("u1") as tx:
        again = await tx.load_session()
        assert again is not None and again.state == "done2"


async def test_profiles_kept_oldest_first_with_utc_dates(backend: Backend) -> None:
    store = await backend.open()
    later = dt.datetime(2025, 5, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    async with store.transaction("u1") as tx:
        await tx.save_profile(a_profile("relational"), later)
        await tx.save_profile(a_profile("sensory"), T0)
    got = await store.profiles("u1")
    assert [p.start_level for _, p in got] == ["sensory", "relational"]
    assert [at for at, _ in got] == [T0, later]
    assert all(at.utcoffset() == dt.timedelta(0) for at, _ in got)
    assert await store.profiles("someone-else") == []


async def test_redelivered_update_is_recognised(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction("u1") as tx:
        assert not await tx.seen(101)
        await tx.mark_seen(101)
        assert await tx.seen(101)
        await tx.mark_seen(101)  # marking twice is harmless
    async with store.transaction("u1") as tx:
        assert await tx.seen(101)
        assert not await tx.seen(102)


async def test_outbox_survives_a_crash_between_commit_and_send(backend: Backend) -> None:
    store = await backend.open(Clock())
    async with store.transaction("u1") as tx:
        ids = [i.id for i in await tx.add_outbox("chat-1", [a_reply("first"), a_reply("second")])]
        assert await tx.add_outbox("chat-1", []) == []
    assert len(ids) == 2 and ids[0] < ids[1]
    # The process dies here: nothing was sent. A new process opens the same database.
    clock = Clock(T0 + dt.timedelta(hours=1))  # after the dead process's lease
    reopened = await backend.open(clock)
    assert [i.id for i in await reopened.claim_outbox()] == ids
    pending = await reopened.pending_outbox()
    assert [(p.id, p.user_id, p.chat_id, p.reply.text, p.attempts) for p in pending] == [
        (ids[0], "u1", "chat-1", "first", 0),
        (ids[1], "u1", "chat-1", "second", 0),
    ]
    assert pending[0].reply == a_reply("first")
    await reopened.mark_failed(ids[0])
    await reopened.mark_sent(ids[1])
    pending = await reopened.pending_outbox()
    assert [(p.id, p.attempts) for p in pending] == [(ids[0], 1)]
    assert await reopened.pending_outbox(limit=0) == []


async def test_pending_outbox_older_than_leaves_fresh_items_to_their_sender(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("u1") as tx:
        (old,) = await tx.add_outbox("c", [a_reply("old")])
    clock.now = T0 + dt.timedelta(minutes=5)
    async with store.transaction("u1") as tx:
        await tx.add_outbox("c", [a_reply("new")])
    assert [p.id for p in await store.pending_outbox(older_than=T0 + dt.timedelta(minutes=1))] == [old.id]


async def test_exception_rolls_back_everything(backend: Backend) -> None:
    store = await backend.open()
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction("u1") as tx:
            await tx.save_session(Session(user_id="u1", state="asking"))
            await tx.mark_seen(7)
            await tx.add_outbox("c", [a_reply("never sent")])
            await tx.save_profile(a_profile(), T0)
            await tx.add_reminder("c", T0, "nudge")
            raise RuntimeError("boom")
    for table in await backend.table_names():
        assert await backend.rows(table) == [], table
    async with store.transaction("u1") as tx:
        assert await tx.load_session() is None
        assert not await tx.seen(7)


async def test_delete_user_leaves_no_row_in_any_table(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    for user in ("gone-4242", "stays-1717"):
        async with store.transaction(user) as tx:
            await tx.save_session(Session(user_id=user, answers={"q1": "often"}))
            await tx.save_profile(a_profile(), T0)
            await tx.mark_seen(hash(user) % 10_000)
            await tx.add_outbox(user, [a_reply("hello")])
            await tx.add_reminder(user, T0, "nudge")
    # The service's shape for /delete: erase, then mark the update seen and queue the confirmation.
    async with store.transaction("gone-4242") as tx:
        await tx.delete_user()
        assert await tx.load_session() is None
        await tx.mark_seen(9_999_999)
        (confirmation,) = await tx.add_outbox("gone-4242", [a_reply("Everything is deleted.")])
    async with store.transaction("stays-1717") as tx:
        assert await tx.seen(9_999_999)  # a redelivery of the /delete update is still recognised
    assert [p.id for p in await store.pending_outbox() if p.user_id == "gone-4242"] == [confirmation.id]
    await store.mark_sent(confirmation.id)

    tables = await backend.table_names()
    # Every table but the anonymous counters holds user rows; counters never hold a user id.
    assert sorted(tables) == sorted([*USER_TABLES, *CIRCLE_TABLES, *SHARED_TABLES])
    assert not [r for r in await backend.rows("counters") if "4242" in repr(r) or "1717" in repr(r)]
    for table in USER_TABLES:
        rows = await backend.rows(table)
        assert not [r for r in rows if "gone-4242" in repr(r)], f"{table} still holds the user"
        assert [r for r in rows if "stays-1717" in repr(r)], f"{table} lost the other user"
    assert await store.profiles("gone-4242") == []


async def test_delete_then_start_again_in_the_same_transaction(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction("u1") as tx:
        await tx.save_session(Session(user_id="u1", state="old"))
    async with store.transaction("u1") as tx:
        await tx.delete_user()
        await tx.save_session(Session(user_id="u1", state="fresh"))
    async with store.transaction("u1") as tx:
        session = await tx.load_session()
        assert session is not None and session.state == "fresh"


async def test_purge_inactive_removes_only_stale_users_and_all_their_rows(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("old-5151") as tx:
        await tx.save_session(Session(user_id="old-5151"))
        await tx.save_profile(a_profile(), T0)
        await tx.add_outbox("old-5151", [a_reply("x")])
        await tx.mark_seen(1)
    clock.now = T0 + dt.timedelta(days=10)
    async with store.transaction("new-6262") as tx:
        await tx.save_session(Session(user_id="new-6262"))
    assert await store.purge_inactive(T0 - dt.timedelta(days=1)) == 0
    assert await store.purge_inactive(T0 + dt.timedelta(days=5)) == 1
    for table in await backend.table_names():
        assert not [r for r in await backend.rows(table) if "old-5151" in repr(r)], table
    async with store.transaction("new-6262") as tx:
        assert await tx.load_session() is not None
    assert await store.purge_inactive(T0 + dt.timedelta(days=5)) == 0


async def test_purge_spares_a_user_who_comes_back_during_it(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("back-3131") as tx:
        await tx.save_session(Session(user_id="back-3131"))
        await tx.add_outbox("back-3131", [a_reply("not sent yet")])
    clock.now = T0 + dt.timedelta(days=10)
    async with store.transaction("back-3131") as tx:  # they return: this transaction is still open...
        await tx.add_outbox("back-3131", [a_reply("welcome back")])
        purge = asyncio.create_task(store.purge_inactive(T0 + dt.timedelta(days=5)))
        await asyncio.sleep(0.2)  # ...while the purge starts and must wait
    assert await purge == 0
    assert [p.reply.text for p in await store.pending_outbox()] == ["not sent yet", "welcome back"]
    async with store.transaction("back-3131") as tx:
        assert await tx.load_session() is not None


async def test_prune_processed_forgets_old_update_ids(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("u1") as tx:
        await tx.mark_seen(1)
    clock.now = T0 + dt.timedelta(days=4)
    async with store.transaction("u1") as tx:
        await tx.mark_seen(2)
    assert await store.prune_processed(T0 + dt.timedelta(days=3)) == 1
    async with store.transaction("u1") as tx:
        assert not await tx.seen(1)
        assert await tx.seen(2)


async def test_activity_and_blocking(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    assert await store.is_active("nobody")
    await store.set_active("nobody", False)  # unknown users are not created
    assert await store.is_active("nobody")
    async with store.transaction("u1") as tx:
        await tx.save_session(Session(user_id="u1"))
    assert await store.is_active("u1")
    await store.set_active("u1", False)
    assert not await store.is_active("u1")
    clock.now = T0 + dt.timedelta(days=1)
    async with store.transaction("u1"):  # they came back
        pass
    assert await store.is_active("u1")
    # Activity moved last_seen_at: a purge before the return leaves them.
    assert await store.purge_inactive(T0 + dt.timedelta(hours=1)) == 0


async def _bump_version_behind_the_store(backend: Backend, store: Store, tx: object, user: str) -> None:
    if isinstance(store, MemoryStore):
        version, raw = store._state.sessions[user]
        store._state.sessions[user] = (version + 1, raw)
    else:
        await tx._conn.execute(
            sa.text("UPDATE sessions SET version = version + 1 WHERE user_id = :u"), {"u": user}
        )


async def test_version_check_refuses_a_stale_save(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction("u1") as tx:
        await tx.save_session(Session(user_id="u1", state="one"))
    with pytest.raises(StaleSessionError, match="retry"):
        async with store.transaction("u1") as tx:
            session = await tx.load_session()
            assert session is not None
            await _bump_version_behind_the_store(backend, store, tx, "u1")
            await tx.save_session(session.model_copy(update={"state": "two"}))


async def test_many_concurrent_updates_of_one_user_lose_nothing(backend: Backend) -> None:
    # Two store instances = two processes (two engines); for memory, one instance is the process.
    stores = [await backend.open(), await backend.open()]
    n = 60

    async def answer(i: int) -> None:
        async with stores[i % 2].transaction("busy") as tx:
            session = await tx.load_session() or Session(user_id="busy")
            # Hold the read across a real pause: without the per-user lock this loses updates (checked by
            # removing the PostgreSQL row lock: about half of the 60 saves then fail the version check).
            await asyncio.sleep(0.005)
            session.answers[f"q{i}"] = "often"
            await tx.save_session(session)
            await tx.mark_seen(1000 + i)

    await asyncio.gather(*(answer(i) for i in range(n)))
    async with stores[0].transaction("busy") as tx:
        final = await tx.load_session()
    assert final is not None
    assert sorted(final.answers) == sorted(f"q{i}" for i in range(n))
    for store in stores:
        if isinstance(store, SqlStore | MemoryStore):
            assert len(store._locks) == 0  # no lock left behind for an idle user


async def test_reminders_are_claimed_once_by_concurrent_claimers(backend: Backend) -> None:
    clock = Clock()
    first, second = await backend.open(clock), await backend.open(clock)
    async with first.transaction("u1") as tx:
        await tx.save_session(Session(user_id="u1"))
    due = [await first.add_reminder("u1", "c1", T0 - dt.timedelta(minutes=i), "nudge") for i in range(40)]
    await first.add_reminder("u1", "c1", T0 + dt.timedelta(days=1), "later")
    with pytest.raises(ValueError):
        await first.add_reminder("stranger", "c", T0, "nudge")

    claimed_once = [asyncio.Event(), asyncio.Event()]

    async def claimer(store: Store, me: int) -> list[int]:
        got: list[int] = []
        while batch := await store.claim_due_reminders(T0, limit=3):
            got += [r.id for r in batch]
            claimed_once[me].set()
            # Both claim at least once however busy the machine is; then they race freely.
            await asyncio.wait_for(claimed_once[1 - me].wait(), timeout=30)
            await asyncio.sleep(0.002)
        return got

    a, b = await asyncio.gather(claimer(first, 0), claimer(second, 1))
    assert sorted(a + b) == sorted(due)  # every due reminder claimed, none twice
    assert a and b  # both really took part
    assert await first.claim_due_reminders(T0 + dt.timedelta(minutes=1)) == []  # claimed, not timed out
    # After the claim timeout, unsent reminders come back (their claimer died).
    back = await second.claim_due_reminders(T0 + CLAIM_TIMEOUT + dt.timedelta(minutes=1), limit=100)
    assert sorted(r.id for r in back) == sorted(due)
    assert back[0].id == due[39] and back[0].due_at == T0 - dt.timedelta(minutes=39)
    async with second.transaction("u1") as tx:
        assert all([await tx.finish_reminder(r.id) for r in back])
    later = await first.claim_due_reminders(T0 + dt.timedelta(days=2), limit=100)
    assert [r.kind for r in later] == ["later"]  # sent ones never return
    assert await first.cancel_reminders("u1") == 1  # the unsent one
    assert await first.claim_due_reminders(T0 + dt.timedelta(days=3), limit=100) == []


async def test_reminder_finished_in_a_transaction_goes_once_and_blocking_drops_the_rest(
    backend: Backend,
) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("u1") as tx:
        await tx.save_session(Session(user_id="u1"))
        first = await tx.add_reminder("c1", T0, "checkin")
        second = await tx.add_reminder("c1", T0 + dt.timedelta(days=1), "checkin")
    (claimed,) = await store.claim_due_reminders(T0)
    assert claimed.id == first
    async with store.transaction("u1") as tx:
        assert await tx.finish_reminder(first) is True
    async with store.transaction("u1") as tx:
        assert await tx.finish_reminder(first) is False  # a second claimer (after a timeout) sends nothing
    with contextlib.suppress(RuntimeError):
        async with store.transaction("u1") as tx:  # a finish rolled back with its transaction is undone
            assert await tx.finish_reminder(second) is True
            raise RuntimeError("crash before commit")
    async with store.transaction("u2") as tx:
        assert await tx.finish_reminder(second) is False  # another user's reminder is never theirs
    await store.set_active("u1", False)  # the user blocked the bot
    assert await store.claim_due_reminders(T0 + dt.timedelta(days=30)) == []


async def test_counters_are_anonymous_totals_committed_with_the_update(backend: Backend) -> None:
    store = await backend.open()
    async with store.transaction("u1") as tx:
        await tx.bump(["conversation.started", "safety.suicide"])
    async with store.transaction("u2") as tx:
        await tx.bump(["conversation.started"])
    with contextlib.suppress(RuntimeError):
        async with store.transaction("u3") as tx:
            await tx.bump(["conversation.started"])
            raise RuntimeError("rolled back")
    assert await store.counters() == {"conversation.started": 2, "safety.suicide": 1}
    async with store.transaction("u1") as tx:
        await tx.delete_user()  # erasing a user leaves the anonymous totals as they are
    assert await store.counters() == {"conversation.started": 2, "safety.suicide": 1}


async def test_keyed_lock_drops_locks_nobody_holds() -> None:
    locks = KeyedLock()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("a"):
            inside.set()
            await release.wait()

    async def waiter() -> None:
        async with locks.hold("a"):
            pass

    task = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    assert len(locks) == 1
    waiting.cancel()  # a waiter cancelled before it gets the lock gives its place back
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await task
    assert len(locks) == 0


async def current_revision(url: str) -> str | None:
    """The schema revision a database is at (None before the first migration)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_reminder_scheduled_before_0003_still_comes_due_after_it(
    kind: str, request, tmp_path
) -> None:
    name = f"neuroseq_m3_{secrets.token_hex(3)}"
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
        if kind == "sqlite"
        else create_database(request.getfixturevalue("postgres_url"), name)  # at 0002, not head
    )
    await upgrade(url, "0002")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO users (user_id, active, created_at, last_seen_at) VALUES ('old', true, :t, :t)"
                ),
                {"t": T0},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO reminders (user_id, chat_id, due_at, kind, payload) "
                    "VALUES ('old', 'c-old', :t, 'checkin', '{}')"
                ),
                {"t": T0},
            )
    finally:
        await engine.dispose()
    store = await open_store(url)  # migrates to head
    try:
        assert await current_revision(url) == "0005"
        due = await store.claim_due_reminders(T0 + dt.timedelta(minutes=1))
        assert [(r.user_id, r.chat_id, r.kind) for r in due] == [("old", "c-old", "checkin")]
    finally:
        await store.close()
        if kind == "postgres":
            drop_database(request.getfixturevalue("postgres_url"), name)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_migrations_create_exactly_the_tables_the_code_uses(kind: str, request, tmp_path) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    await upgrade(url)
    await upgrade(url)  # running again is a no-op
    assert await current_revision(url) == "0005"
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == []


async def test_sqlite_settings_and_folder_creation(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "neuroseq.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    try:
        assert path.exists()
        assert isinstance(store, SqlStore)
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            # Waiting for a lock and checkpoints happen off the loop (store/sqlite_inline.py), not in SQLite.
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 0
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x/y", "unsupported database URL"),
        ("sqlite+aiosqlite://", "memory://"),
        ("sqlite+aiosqlite:///:memory:", "memory://"),
    ],
)
async def test_open_store_refuses_urls_it_cannot_serve(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await open_store(url)


async def test_memory_url_gives_a_memory_store() -> None:
    assert isinstance(await open_store("memory://"), MemoryStore)


_steps = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.sampled_from(["save", "delete", "fail"]),
        st.dictionaries(
            st.text(min_size=1, max_size=8), st.one_of(st.none(), st.text(max_size=8)), max_size=4
        ),
    ),
    max_size=12,
)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
async def test_store_agrees_with_a_plain_dict(kind: str, steps, tmp_path_factory) -> None:
    """Any sequence of saves, erasures and failed updates leaves what a dict of committed sessions says."""
    url = "memory://" if kind == "memory" else f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('p') / 'p.db'}"
    store = await open_store(url)
    model: dict[str, dict[str, str | None]] = {}
    try:
        for user, action, answers in steps:
            try:
                async with store.transaction(user) as tx:
                    session = await tx.load_session() or Session(user_id=user)
                    if action == "delete":
                        await tx.delete_user()
                    else:
                        await tx.save_session(session.model_copy(update={"answers": answers}))
                    if action == "fail":
                        raise KeyError("failed update")
            except KeyError:
                continue
            if action == "delete":
                model.pop(user, None)
            else:
                model[user] = answers
        for user in ("a", "b"):
            async with store.transaction(user) as tx:
                session = await tx.load_session()
            assert (session.answers if session else None) == model.get(user)
    finally:
        await store.close()


async def test_the_database_is_private_whatever_the_umask(tmp_path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "deep" / "neuroseq.db"
        store = await open_store(f"sqlite+aiosqlite:///{path}")
        try:
            async with store.transaction("u1") as tx:
                await tx.save_session(Session(user_id="u1"))
            files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
            assert all(f.exists() for f in files)
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
            for folder in (path.parent, path.parent.parent):
                assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        finally:
            await store.close()
        # A database created earlier with the umask's mode is made private when opened.
        os.chmod(path, 0o644)
        store = await open_store(f"sqlite+aiosqlite:///{path}")
        await store.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


async def test_debug_logs_hold_no_session_data(tmp_path, caplog, monkeypatch) -> None:
    import logging

    from neuroseq_core.service.logs import quiet_libraries

    monkeypatch.delenv("NEUROSEQ_LOG_LIBRARIES", raising=False)
    for name in ("aiosqlite", "sqlalchemy", "asyncpg", "transitions"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    caplog.set_level(logging.DEBUG)  # the root logger and everything under it at DEBUG
    quiet_libraries()
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}")
    try:
        async with store.transaction("u-logs") as tx:
            await tx.save_session(
                Session(user_id="u-logs", nickname="Zephyrine", answers={"c_sleep": "often"})
            )
        async with store.transaction("u-logs") as tx:
            loaded = await tx.load_session()
        assert loaded is not None and loaded.nickname == "Zephyrine"  # the data went through the driver
    finally:
        await store.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Zephyrine" not in logged and "c_sleep" not in logged and '"user_id":"u-logs"' not in logged
    # Without the floor, SQLAlchemy does log the statements with their parameters (so the test can see a leak).
    caplog.clear()
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}")
    try:
        async with store.transaction("u-logs") as tx:
            await tx.save_session(Session(user_id="u-logs", nickname="Zephyrine"))
    finally:
        await store.close()
        logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)
    # (It cuts a long parameter after 300 characters: the nickname is cut off, the session's start is not.)
    assert '"user_id":"u-logs"' in "\n".join(r.getMessage() for r in caplog.records)
