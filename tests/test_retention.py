"""Retention: `neuroseq data purge`, and the bot's own daily purge, forget inactive users."""

from __future__ import annotations

import datetime as dt
import logging

from cli import run_cli
from fakebot.harness import polling_bot
from fakebot.service import FakeService
from neuroseq_core.domain.session import Session
from neuroseq_core.store.memory import MemoryStore
from neuroseq_core.store.open import open_store

NOW = dt.datetime.now(dt.UTC)


async def _user_seen_at(store, user_id: str, when: dt.datetime) -> None:
    clock = store.clock
    store.clock = lambda: when
    async with store.transaction(user_id) as tx:
        await tx.save_session(Session(user_id=user_id, answers={"c_sleep": "often"}))
    store.clock = clock


async def _has_session(store, user_id: str) -> bool:
    async with store.transaction(user_id) as tx:
        return await tx.load_session() is not None


async def test_the_running_bot_purges_inactive_users_at_start(api, caplog):
    caplog.set_level(logging.INFO, logger="bot.runtime")
    store = MemoryStore()
    await _user_seen_at(store, "old", NOW - dt.timedelta(days=400))
    await _user_seen_at(store, "recent", NOW - dt.timedelta(days=3))
    async with polling_bot(api, store, FakeService(store)):
        # Wait for the purge itself (looking at the store first would count as activity).
        await api.wait_until(lambda: any(r.msg == "retention purge" for r in caplog.records), timeout=10)
    assert not await _has_session(store, "old")
    assert await _has_session(store, "recent")


async def test_data_purge_command(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    store = await open_store(url)
    await _user_seen_at(store, "old", NOW - dt.timedelta(days=200))
    await _user_seen_at(store, "recent", NOW - dt.timedelta(days=10))
    await store.close()
    done = run_cli(["data", "purge"], env={"NEUROSEQ_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert "removed the data of 1 user(s) inactive for more than 180 days" in done.stdout
    store = await open_store(url)
    try:
        assert not await _has_session(store, "old")
        assert await _has_session(store, "recent")
    finally:
        await store.close()
