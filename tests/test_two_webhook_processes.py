"""Two `neuroseq webhook` processes share one PostgreSQL; interleaved updates of the same users end
with exactly the answers one process would keep, and a redelivered update changes nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from cli import start_cli
from driver import Driver
from fakebot import FakeBotAPI, FakeUser

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
ROOT = Path(__file__).resolve().parent.parent
SECRET = "two-procs-Secret_42"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(api: FakeBotAPI, db_url: str, port: int) -> subprocess.Popen[bytes]:
    return start_cli(
        ["webhook"],
        TELEGRAM_BOT_TOKEN=api.token,
        NEUROSEQ_TELEGRAM_API_URL=api.base_url,
        NEUROSEQ_DATABASE_URL=db_url,
        NEUROSEQ_WEBHOOK_URL="https://bot.example.org/hook",
        NEUROSEQ_WEBHOOK_SECRET=SECRET,
        NEUROSEQ_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        NEUROSEQ_LOG_LEVEL="WARNING",
    )


async def wait_healthy(client: httpx.AsyncClient, port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode(errors="replace")[-2000:])
        try:
            if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("webhook server did not become healthy")


def option_ids(message) -> list[str]:
    return [b["callback_data"].split("|", 1)[1] for row in message.keyboard for b in row]


async def converse(
    api: FakeBotAPI, client: httpx.AsyncClient, ports: list[int], user: FakeUser, seed: int
) -> list[str]:
    """Drive one user to the results, alternating processes at every update; returns the presses."""
    presses: list[str] = []
    posted: list[dict] = []

    async def post(update: dict, i: int) -> None:
        r = await client.post(f"http://127.0.0.1:{ports[i % 2]}/hook", json=update, headers={HEADER: SECRET})
        assert r.status_code == 200, r.text
        posted.append(update)

    start = api.update_json(
        "message",
        user.message_json(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    )
    await post(start, seed)
    previous = None
    for step in range(1, 80):
        # 200 means stored; the reply may still be on its way from either process's sender.
        await api.wait_until(lambda: user.last_keyboard() not in (None, previous), timeout=10)
        question = previous = user.last_keyboard()
        ids = option_ids(question)
        if {"more", "restart"} <= set(ids):
            break
        onboarding = {"agree", "parent", "uk", "6-11"}
        pick = next((i for i in ids if i in onboarding), None) or ids[(seed + step) % max(1, len(ids) - 1)]
        presses.append(pick)
        data = next(
            b["callback_data"]
            for row in question.keyboard
            for b in row
            if b["callback_data"].endswith("|" + pick)
        )
        update = api.update_json(
            "callback_query",
            {
                "id": f"cb{user.id}-{step}",
                "from": user.json(),
                "message": question.raw,
                "chat_instance": "ci",
                "data": data,
            },
        )
        await post(update, seed + step)
    # A redelivery to the other process changes nothing and sends nothing.
    sent_before = len(user.messages)
    r = await client.post(
        f"http://127.0.0.1:{ports[(seed + 1) % 2]}/hook", json=posted[-1], headers={HEADER: SECRET}
    )
    assert r.status_code == 200
    await asyncio.sleep(0.3)
    assert len(user.messages) == sent_before
    return presses


async def _clean(url: str) -> None:
    # The server is shared by the test session and every fake Bot API numbers updates from 1000:
    # rows another test left would make this test's updates look like redeliveries.
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "DO $$ BEGIN IF to_regclass('users') IS NOT NULL THEN "
                "TRUNCATE users, sessions, profiles, processed_updates, outbox, reminders, counters CASCADE; "
                "END IF; END $$"
            )
        )
    await engine.dispose()


async def test_two_processes_one_database(postgres_url, content):
    await _clean(postgres_url)
    ports = [free_port(), free_port()]
    async with FakeBotAPI() as api:
        procs = [start(api, postgres_url, p) for p in ports]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for port, proc in zip(ports, procs, strict=True):
                    await wait_healthy(client, port, proc)
                users = [api.user(880_000 + i) for i in range(4)]
                presses = await asyncio.gather(
                    *(converse(api, client, ports, u, i) for i, u in enumerate(users))
                )
            engine = create_async_engine(postgres_url)
            async with engine.connect() as conn:
                rows = {
                    r[0]: json.loads(r[1])
                    for r in await conn.execute(
                        sa.text("SELECT user_id, data FROM sessions WHERE user_id = ANY(:ids)"),
                        {"ids": [str(u.id) for u in users]},
                    )
                }
            await engine.dispose()
            for user, picks in zip(users, presses, strict=True):
                # The same presses through one engine, in one process:
                d = Driver(content, user=str(user.id))
                for pick in picks:
                    d.press_id(pick)
                stored = rows[str(user.id)]
                assert stored["answers"] == d.session.answers
                assert stored["state"] == d.session.state == "results"
                assert stored["profile"]["start_step"] == d.session.profile.start_step
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
