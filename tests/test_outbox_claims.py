# ruff: noqa: F811  (test functions take the imported `backend` fixture by name)
"""Each outbox row is sent by one process: claimed in the database first, with a lease that covers a
crash; and erasure that holds — after /delete nothing names the user, whatever arrives later."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from test_store import (
    T0,
    Backend,
    Clock,
    a_reply,
    backend,  # noqa: F401  (the store fixture, on memory, SQLite and PostgreSQL)
)

from neuroseq_core.content import ContentHolder
from neuroseq_core.domain.events import Choice, Command, Start, Text
from neuroseq_core.engine import DELETE_CONFIRM
from neuroseq_core.service import Service
from neuroseq_core.store.base import OUTBOX_LEASE
from neuroseq_core.store.tables import USER_TABLES


async def test_a_handlers_replies_are_its_own_until_its_lease_ends(backend: Backend) -> None:
    clock = Clock()
    mine, other = await backend.open(clock), await backend.open(clock)
    async with mine.transaction("u1") as tx:
        items = await tx.add_outbox("c1", [a_reply("one"), a_reply("two")])
    assert [i.lease_until for i in items] == [T0 + OUTBOX_LEASE] * 2
    # Being delivered by the handler that queued them: no flusher anywhere takes them.
    assert await mine.claim_outbox() == []
    assert await other.claim_outbox() == []
    # The handler's process died: once the lease is over, another process takes them, once.
    clock.now = T0 + OUTBOX_LEASE + dt.timedelta(seconds=1)
    taken = await other.claim_outbox()
    assert [t.id for t in taken] == [i.id for i in items]
    assert await mine.claim_outbox() == [] and await other.claim_outbox() == []


async def test_a_users_later_reply_waits_while_an_earlier_one_is_held(backend: Backend) -> None:
    clock = Clock()
    store = await backend.open(clock)
    async with store.transaction("u1") as tx:
        (first,) = await tx.add_outbox("c1", [a_reply("first")])
    async with store.transaction("u1") as tx:
        (second,) = await tx.add_outbox("c1", [a_reply("second")])
    async with store.transaction("u2") as tx:
        (other,) = await tx.add_outbox("c2", [a_reply("other")])
    await store.mark_failed(second.id, tried=False)  # released, but behind a held reply of u1
    await store.mark_failed(other.id)
    assert [i.reply.text for i in await store.claim_outbox()] == ["other"]  # u1's second waits
    await store.mark_failed(first.id, parts_done=1)  # the picture went; the text did not
    claimed = await store.claim_outbox()
    assert [(i.reply.text, i.parts_done, i.attempts) for i in claimed] == [("first", 1, 1), ("second", 0, 0)]


async def test_a_new_reply_takes_a_failed_earlier_one_with_it(backend: Backend) -> None:
    store = await backend.open(Clock())
    async with store.transaction("u1") as tx:
        (first,) = await tx.add_outbox("c1", [a_reply("first")])
    await store.mark_failed(first.id)  # its delivery failed; released for a retry
    async with store.transaction("u1") as tx:
        items = await tx.add_outbox("c1", [a_reply("second")])
    # This update's sender sends both, the older first.
    assert [i.reply.text for i in items] == ["first", "second"]
    assert await store.claim_outbox() == []  # and nobody else takes them


async def test_concurrent_claimers_never_share_a_row(backend: Backend) -> None:
    n_users = 40
    if backend.name == "memory":
        pytest.skip("one memory store is one process")
    clock = Clock()
    stores = [await backend.open(clock) for _ in range(3)]
    for u in range(n_users):
        async with stores[0].transaction(f"u{u}") as tx:
            await tx.add_outbox(f"c{u}", [a_reply(f"{u}-{k}") for k in range(5)])
    clock.now = T0 + OUTBOX_LEASE * 2  # every lease over: all free
    claims: list[list[int]] = [[], [], []]
    # Each takes a first batch before any goes on: on SQLite a claimer that meets the write lock
    # sleeps in the busy handler, and the other two could drain the outbox before it wakes (a
    # scheduling accident, not a shared row). After that, all three claim at once until it is empty.
    started = asyncio.Barrier(3)

    async def claimer(i: int) -> None:
        first = True
        while batch := await stores[i].claim_outbox(limit=7):
            claims[i].extend(item.id for item in batch)
            for item in batch:
                await stores[i].mark_sent(item.id)  # sent: the user's next reply may be claimed
            if first:
                first = False
                await started.wait()

    async with asyncio.timeout(60):  # a claimer that never got a first batch would hold the others
        await asyncio.gather(*(claimer(i) for i in range(3)))
    every_id = [i for c in claims for i in c]
    assert len(every_id) == len(set(every_id)) == n_users * 5
    assert all(claims), "every claimer took part"


async def test_sqlite_releases_a_dead_senders_claims_at_start(tmp_path: Path) -> None:
    from neuroseq_core.store.open import open_store

    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    crashed = await open_store(url)
    async with crashed.transaction("u1") as tx:
        (item,) = await tx.add_outbox("c1", [a_reply("left over")])
    # SIGKILL here. The next process is SQLite's only sender: the claim is released at once.
    restarted = await open_store(url)
    assert await restarted.claim_outbox() == []
    assert await restarted.release_claims() == 1
    assert [i.id for i in await restarted.claim_outbox()] == [item.id]
    await crashed.close()
    await restarted.close()


# ---- erasure that holds ---------------------------------------------------------------------------


async def _rows_naming(backend: Backend, user: str) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    for table in USER_TABLES:
        rows = [r for r in await backend.rows(table) if user in repr(r)]
        if rows:
            found[table] = rows
    return found


async def test_nothing_after_delete_brings_the_user_back(backend: Backend, content) -> None:
    clock = Clock()
    store = await backend.open(clock)
    service = Service(store, ContentHolder(content))
    user = "erased-7373"
    update = iter(range(50_000, 50_100))

    async def send(event, update_id: int | None = None) -> list:
        items = await service.handle(user, user, event, next(update) if update_id is None else update_id)
        for item in items:
            await store.mark_sent(item.id)  # delivered
        return [i.reply for i in items]

    (welcome,) = [r for r in await send(Start(now=T0)) if r.choices]
    replies = await send(Choice(now=T0, option_id="agree", token=welcome.token))
    role_question = next(r for r in replies if r.choices)
    await send(Choice(now=T0, option_id="parent", token=role_question.token), update_id=60_001)
    await send(Text(now=T0, text="Zephyrine hates loud rooms"))
    assert await _rows_naming(backend, user), "the user is stored while they take part"

    ask = next(r for r in await send(Command(now=T0, name="delete")) if r.choices)
    gone = await send(Choice(now=T0, option_id=DELETE_CONFIRM, token=ask.token))
    assert gone, "the erasure is confirmed"
    assert await _rows_naming(backend, user) == {}

    # The old question is still on screen: a tap on it, a redelivery of an update handled before the
    # erasure, and the user unblocking the bot all find nothing and store nothing.
    stale = await send(Choice(now=T0, option_id="parent", token=role_question.token))
    assert [r.text for r in stale] == [content.notice("reprompt.forgotten", "en").text]  # a kind answer
    hello = await send(Text(now=T0, text="hello?"))
    assert [r.text for r in hello] == [content.notice("declined.hint", "en").text]  # "type /start to begin"
    assert await send(Choice(now=T0, option_id="parent", token=role_question.token), update_id=60_001) == []
    await store.set_active(user, True)
    assert await _rows_naming(backend, user) == {}
    # The update ids stay (a redelivery is still recognised) but name nobody.
    async with store.transaction("someone-else") as tx:
        assert await tx.seen(60_001)
    assert await _rows_naming(backend, "someone-else") == {}

    # Starting again is a new conversation: consent first.
    restart = await send(Start(now=T0))
    assert any(r.choices and "agree" in [b.id for b in r.choices] for r in restart)


async def test_erased_text_is_gone_from_the_sqlite_files(tmp_path: Path, content) -> None:
    from neuroseq_core.store.open import open_store

    path = tmp_path / "db.sqlite"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    service = Service(store, ContentHolder(content))
    marker = "Quillaby" * 3  # a nickname nobody else would write
    session_items = await service.handle("u-wal", "u-wal", Start(now=T0), 1)
    welcome = next(i.reply for i in session_items if i.reply.choices)
    await service.handle("u-wal", "u-wal", Choice(now=T0, option_id="agree", token=welcome.token), 2)
    async with store.transaction("u-wal") as tx:  # a nickname stored as the engine would keep it
        session = await tx.load_session()
        assert session is not None
        session.nickname = marker
        await tx.save_session(session)
    files = [path, path.with_name(path.name + "-wal")]
    assert any(marker.encode() in f.read_bytes() for f in files if f.exists())
    ask = next(
        i.reply
        for i in await service.handle("u-wal", "u-wal", Command(now=T0, name="delete"), 3)
        if i.reply.choices
    )
    await service.handle("u-wal", "u-wal", Choice(now=T0, option_id=DELETE_CONFIRM, token=ask.token), 4)
    for f in files:
        if f.exists():
            assert marker.encode() not in f.read_bytes(), f"{f.name} still holds the erased nickname"
    await store.close()
