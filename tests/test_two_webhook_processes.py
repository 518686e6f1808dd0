"""Two `neuroseq webhook` processes share one PostgreSQL; interleaved updates of the same users end
with exactly the answers one process would keep, a redelivered update changes nothing, and with 200
caregivers at once each receives every message exactly once (what they see, not only what is stored)."""

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

from cli import COMMAND, ROOT, cli_env, start_cli
from driver import Driver
from fakebot import FakeBotAPI, FakeUser
from fakebot.server import BotMessage
from fakebot.walker import chat_index, duplicates, replay, token_of, transcript
from fakebot.walker import option_ids as walker_option_ids

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
SECRET = "two-procs-Secret_42"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_settings(api: FakeBotAPI, db_url: str, port: int) -> dict[str, str]:
    """The environment of one `neuroseq webhook` worker."""
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "NEUROSEQ_TELEGRAM_API_URL": api.base_url,
        "NEUROSEQ_DATABASE_URL": db_url,
        "NEUROSEQ_WEBHOOK_URL": "https://bot.example.org/hook",
        "NEUROSEQ_WEBHOOK_SECRET": SECRET,
        "NEUROSEQ_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "NEUROSEQ_LOG_LEVEL": "WARNING",
    }


def start(api: FakeBotAPI, db_url: str, port: int) -> subprocess.Popen[bytes]:
    return start_cli(["webhook"], **worker_settings(api, db_url, port))


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


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker, then SIGKILL whoever has not left within 15 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


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
                "TRUNCATE users, sessions, profiles, processed_updates, outbox, reminders, counters, pace CASCADE; "
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
            stop_all(procs)


# ---- many users at once: what each one receives --------------------------------------------------

MANY = 200


def start_logged(api: FakeBotAPI, db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`neuroseq webhook` with its stderr in a file (a pipe nobody reads would fill and stall it)."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [*COMMAND, "webhook"],
            cwd=ROOT,
            env=cli_env(**worker_settings(api, db_url, port)),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


async def converse_many(
    api: FakeBotAPI,
    client: httpx.AsyncClient,
    ports: list[int],
    user: FakeUser,
    seed: int,
    posted: list[dict],
) -> bool:
    """One caregiver to the menu after the first idea, updates alternating over the two processes as a
    round-robin load balancer would; every update posted is kept (in order) to replay later."""
    index = chat_index(api)
    turn = seed

    async def post(update: dict) -> None:
        nonlocal turn
        for attempt in range(3):
            try:
                r = await client.post(
                    f"http://127.0.0.1:{ports[turn % 2]}/hook", json=update, headers={HEADER: SECRET}
                )
                break
            except httpx.TransportError:
                # A kept-alive connection the server had just closed: Telegram, too, sends the
                # update again (the bot knows it by its id).
                if attempt == 2:
                    raise
        assert r.status_code == 200, r.text
        posted.append(update)
        turn += 1

    def newest_prompt() -> BotMessage | None:
        for message in reversed(index.messages(user.id)):
            if message.keyboard:
                return message
        return None

    await post(
        api.update_json(
            "message",
            user.message_json(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
        )
    )
    answered: set[str] = set()
    for step in range(60):
        found: list[BotMessage] = []

        def ready(found: list[BotMessage] = found) -> bool:
            prompt = newest_prompt()
            if prompt is not None and token_of(prompt) not in answered:
                found.append(prompt)
                return True
            return False

        await api.wait_until(ready, timeout=60)
        question = found[0]
        ids = walker_option_ids(question)
        if {"more", "restart"} <= set(ids):
            return True
        answered.add(token_of(question))
        onboarding = {"agree", "parent", "uk", "6-11"}
        pick = next((i for i in ids if i in onboarding), None) or ids[(seed + step) % max(1, len(ids) - 1)]
        data = next(
            b["callback_data"]
            for row in question.keyboard
            for b in row
            if b["callback_data"].endswith("|" + pick)
        )
        await post(
            api.update_json(
                "callback_query",
                {
                    "id": f"cb{user.id}-{step}",
                    "from": user.json(),
                    "message": json.loads(json.dumps(question.raw)),
                    "chat_instance": "ci",
                    "data": data,
                },
            )
        )
    return False


async def test_two_hundred_caregivers_over_two_processes_each_get_every_message_once(
    postgres_url, content, tmp_path
):
    await _clean(postgres_url)
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    async with FakeBotAPI() as api:
        procs = [start_logged(api, postgres_url, p, log) for p, log in zip(ports, logs, strict=True)]
        posted: list[dict] = []
        try:
            limits = httpx.Limits(max_connections=2 * MANY, max_keepalive_connections=2 * MANY)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:
                for port, proc in zip(ports, procs, strict=True):
                    await wait_healthy(client, port, proc)
                users = [api.user(910_000 + i) for i in range(MANY)]
                finished = await asyncio.gather(
                    *(converse_many(api, client, ports, u, i, posted) for i, u in enumerate(users))
                )
            assert all(finished), "every conversation reached the menu"
            await asyncio.sleep(1.0)  # anything still on its way (a flusher's round) arrives
        finally:
            stop_all(procs)
        # What each caregiver received, against the same updates run once each through one engine.
        expected = await replay(content, posted)
        repeats = {u.id: len(duplicates(api, u.id)) for u in users}
        assert sum(repeats.values()) == 0, {k: v for k, v in repeats.items() if v}
        for user in users:
            assert transcript(api, user.id) == expected[user.id], user.id
        errors = [
            line for log in logs for line in log.read_text(errors="replace").splitlines() if "ERROR" in line
        ]
        assert errors == [], errors[:5]
