"""PostgreSQL's hot path on asyncpg (store/pg_raw.py): a transaction's session save and processed id are
held back and written with its replies in one statement. What that must not change: replies keep their
order, a stale session still fails the whole transaction, an erasure still leaves no name behind, and
reads in the same transaction see what was written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Session
from neuroseq_core.store import pg_raw
from neuroseq_core.store.base import StaleSessionError
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore
from neuroseq_core.store.tables import outbox, processed_updates, sessions
from pg import _admin


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(postgres_url)
    assert isinstance(opened, SqlStore)
    try:
        yield opened
    finally:
        await opened.close()


async def saved(store: SqlStore, user_id: str, nickname: str) -> None:
    """A user with a stored session, from an earlier update."""
    async with store.transaction(user_id) as tx:
        await tx.save_session(Session(user_id=user_id, nickname=nickname))


async def rows(store: SqlStore, query: sa.Select[tuple[object, ...]]) -> list[tuple[object, ...]]:
    async with store.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]


async def test_an_updates_writes_go_in_one_statement_and_replies_keep_their_order(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = 0
    original = pg_raw.Writes.write

    async def counting(self: pg_raw.Writes, *args: object, **kwargs: object) -> tuple[int | None, list[int]]:
        nonlocal statements
        statements += 1
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pg_raw.Writes, "write", counting)
    async with store.transaction("u-raw-1") as tx:
        assert not await tx.seen(501)
        await tx.load_session()
        await tx.save_session(Session(user_id="u-raw-1", nickname="Robin"))
        await tx.mark_seen(501)
        items = await tx.add_outbox("c1", [Reply(text=f"part {n}") for n in range(5)])
    assert statements == 1  # the save, the id and the five replies: one write
    assert [i.reply.text for i in items] == [f"part {n}" for n in range(5)]
    assert [i.id for i in items] == sorted(i.id for i in items)
    stored = await rows(store, sa.select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))
    assert [Reply.model_validate_json(str(p)).text for _, p in stored] == [f"part {n}" for n in range(5)]
    async with store.transaction("u-raw-1") as tx:
        assert await tx.seen(501)
        session = await tx.load_session()
    assert session is not None and session.nickname == "Robin"


async def test_a_stale_session_fails_the_transaction_and_keeps_nothing_of_it(
    store: SqlStore, postgres_url: str
) -> None:
    await saved(store, "u-raw-2", "Sam")
    with pytest.raises(StaleSessionError):
        async with store.transaction("u-raw-2") as tx:
            await tx.seen(601)
            await tx.load_session()
            # Another writer moves the session on meanwhile (the optimistic guard's case).
            await _admin(postgres_url, "UPDATE sessions SET version = version + 1 WHERE user_id = 'u-raw-2'")
            await tx.save_session(Session(user_id="u-raw-2", nickname="Sam B"))
            await tx.mark_seen(601)
            await tx.add_outbox("c2", [Reply(text="never sent")])
    assert await rows(store, sa.select(outbox.c.id).where(outbox.c.user_id == "u-raw-2")) == []
    handled = sa.select(processed_updates.c.update_id).where(processed_updates.c.update_id == 601)
    assert await rows(store, handled) == []
    kept = await rows(store, sa.select(sessions.c.data).where(sessions.c.user_id == "u-raw-2"))
    assert len(kept) == 1 and "Sam B" not in str(kept[0][0])


async def test_erasure_after_a_held_processed_id_leaves_it_unnamed(store: SqlStore) -> None:
    await saved(store, "u-raw-3", "Ari")
    async with store.transaction("u-raw-3") as tx:
        await tx.seen(701)
        await tx.save_session(Session(user_id="u-raw-3", nickname="Ari 2"))
        await tx.mark_seen(701)  # held, naming the user ...
        await tx.delete_user()  # ... who then erases everything in the same transaction
        await tx.add_outbox("c3", [Reply(text="Everything is deleted.")])
    owner = sa.select(processed_updates.c.user_id).where(processed_updates.c.update_id == 701)
    assert await rows(store, owner) == [(None,)]
    assert await rows(store, sa.select(sessions.c.user_id).where(sessions.c.user_id == "u-raw-3")) == []


async def test_two_saves_in_one_transaction_both_count(store: SqlStore) -> None:
    async with store.transaction("u-raw-4") as tx:
        await tx.load_session()
        await tx.save_session(Session(user_id="u-raw-4", nickname="One"))
        await tx.save_session(Session(user_id="u-raw-4", nickname="Two"))
    got = await rows(
        store, sa.select(sessions.c.version, sessions.c.data).where(sessions.c.user_id == "u-raw-4")
    )
    assert got[0][0] == 2 and "Two" in str(got[0][1])
