"""PostgreSQL connections kept, not churned (store/connect.py PG_POOL_SIZE, store/sql.py `_slot`): many
users at once share the pool's connections, each opened once, and callers queue for a turn in the store,
never inside SQLAlchemy's pool."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from neuroseq_core.domain.events import Reply
from neuroseq_core.domain.session import Session
from neuroseq_core.store.connect import PG_POOL_SIZE
from neuroseq_core.store.open import open_store
from neuroseq_core.store.sql import SqlStore

USERS = 6 * PG_POOL_SIZE


async def test_many_users_at_once_reuse_the_pools_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(postgres_url)
    assert isinstance(store, SqlStore)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(store.engine.sync_engine, "connect", count)
    waited_in_pool = 0
    pool = store.engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    original = pool._do_get

    def watching() -> object:
        nonlocal waited_in_pool
        if pool.checkedout() >= PG_POOL_SIZE:  # every connection is out: this caller would wait
            waited_in_pool += 1
        return original()

    monkeypatch.setattr(pool, "_do_get", watching)

    async def one_user(n: int) -> None:
        user_id = f"u-pool-{n}"
        for turn in range(3):  # three presses, each a transaction and a delivered reply
            async with store.transaction(user_id) as tx:
                await tx.load_session()
                await tx.save_session(Session(user_id=user_id, nickname=f"R{turn}"))
                items = await tx.add_outbox(user_id, [Reply(text="ok")])
            for item in items:
                await store.mark_sent(item.id)
            await store.ping()

    try:
        await asyncio.wait_for(asyncio.gather(*(one_user(n) for n in range(USERS))), 60)
        async with store.transaction("u-pool-0") as tx:
            session = await tx.load_session()
        assert session is not None and session.nickname == "R2"
        assert 1 <= opened <= PG_POOL_SIZE  # each opened once: none closed on return and reopened
        assert waited_in_pool == 0  # the queue is the store's semaphore, not the pool
    finally:
        await store.close()
