"""SIGKILL a real `neuroseq run` process at random points while 50 users converse; restart each time.

Every user must reach the results; every answer pressed must be in the stored session; the bot
must not answer any update twice. With at-least-once delivery a reply can be sent twice only in
one window: the server took it, and the kill came before the bot marked it sent in the outbox.
Such a repeat must straddle a kill and be the last copy sent before it; anything else is a
duplicate reply and fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import ROOT, cli_env
from fakebot import Call, FakeBotAPI
from fakebot.walker import (
    Walk,
    duplicates,
    expect_answers,
    record_updates,
    replay,
    sends,
    signature,
    walk_to_results,
)

pytestmark = pytest.mark.fault

USERS = 50
KILLS = 3
SEED = 20261125
RUN = [sys.executable, "-m", "neuroseq_core.cli"]


class BotProcess:
    """`neuroseq run` as a child process that can be killed and started again."""

    def __init__(self, api: FakeBotAPI, db: Path, log: Path) -> None:
        self.api = api
        self.db = db
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills: list[float] = []  # monotonic times of each SIGKILL

    def start(self) -> None:
        """Start a new process on the same database (stderr appended to the log file)."""
        env = cli_env(
            TELEGRAM_BOT_TOKEN=self.api.token,
            NEUROSEQ_TELEGRAM_API_URL=self.api.base_url,
            NEUROSEQ_DATABASE_URL=f"sqlite+aiosqlite:///{self.db}",
            NEUROSEQ_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),  # bot/ and neuroseq_core/ from this checkout
        )
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [*RUN, "run"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def kill(self) -> None:
        """SIGKILL: no chance to confirm updates, mark replies sent or close anything."""
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.kills.append(time.monotonic())
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self) -> str:
        """The end of the bot's stderr, for failure messages."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def read_db(db: Path) -> tuple[dict[str, dict], set[int], int]:
    """Sessions by user id, processed update ids, and the number of outbox rows still pending."""
    with sqlite3.connect(db) as conn:
        sessions = {uid: json.loads(data) for uid, data in conn.execute("SELECT user_id, data FROM sessions")}
        processed = {row[0] for row in conn.execute("SELECT update_id FROM processed_updates")}
        pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return sessions, processed, pending


async def test_sigkill_at_random_points_in_50_conversations(tmp_path, content):
    rng = random.Random(SEED)
    db = tmp_path / "bot.db"
    async with FakeBotAPI() as api:
        bot = BotProcess(api, db, tmp_path / "bot.log")
        pushed = record_updates(api)
        walks = [Walk(api.user(10_000 + i)) for i in range(USERS)]
        # Kill after these many presses in total (a walk to the first idea is ~9 presses, so ~450 in all).
        kill_at = sorted(rng.sample(range(40, 380), KILLS))
        restarts: list[float] = []

        async def killer() -> None:
            for threshold in kill_at:
                await api.wait_until(lambda t=threshold: sum(len(w.presses) for w in walks) >= t, timeout=60)
                await asyncio.sleep(
                    rng.uniform(0, 0.05)
                )  # a random point inside handling, not between presses
                bot.kill()
                bot.start()
                started = len(api.started)
                restarts.append(time.monotonic())
                await api.wait_until(lambda s=started: "getUpdates" in api.started[s:], timeout=30)

        bot.start()
        try:
            await api.wait_until(lambda: "getUpdates" in api.started, timeout=30)
            kills = asyncio.create_task(killer())
            await asyncio.gather(
                *(walk_to_results(w.user, random.Random(SEED + w.user.id), walk=w, timeout=40) for w in walks)
            )
            await kills
            assert len(bot.kills) == KILLS
            # Let the last replies be marked sent, then stop cleanly (confirming the last offset).
            await asyncio.sleep(0.5)
            assert bot.stop() == 0, bot.tail()
        except BaseException:
            bot.stop()
            print("bot stderr:", bot.tail())
            raise

        sessions, processed, pending = read_db(db)
        assert pending == 0, "replies left unsent in the outbox"
        # Every update the users sent was handled (its id recorded in the same transaction).
        pushed_ids = {u["update_id"] for u in pushed}
        assert pushed_ids <= processed, sorted(pushed_ids - processed)[:10]
        expected = await replay(content, pushed)
        repeats = late_repeats = 0
        for walk in walks:
            user = walk.user
            assert walk.finished
            session = sessions[str(user.id)]
            assert session["completed_at"] is not None
            expect_answers(walk, session["answers"])  # no answer lost, none changed
            chat = sends(api, user.id)
            # Every prompt the user answered had been sent to them.
            assert walk.tokens <= {token_of_call(c) for c in chat}
            excused: set[float] = set()
            repeated: set[int] = set()
            for earlier, later in duplicates(api, user.id):
                # Sent again only after a kill, and the earlier copy is the last thing this chat got
                # before that kill: the reply was in flight (sent, not yet marked sent) when it died.
                kill = next((k for k in bot.kills if earlier.at < k < later.at), None)
                assert kill is not None, (user.id, signature(later))
                assert not any(earlier.at < c.at < kill for c in chat), (user.id, signature(later))
                assert kill not in excused, f"user {user.id}: two repeats from one kill"
                excused.add(kill)
                repeated.add(id(later))
                repeats += 1
                late_repeats += any(
                    earlier.at < c.at < later.at and signature(c) != signature(later) for c in chat
                )
            # Apart from those repeats, the chat is exactly what a run without kills shows, in order.
            heard = [signature(c) for c in chat if id(c) not in repeated]
            assert heard == expected[user.id], f"user {user.id}: the chat differs from a run without kills"
        print(
            f"kills at presses {kill_at}; repeats from the crash window: {repeats}, after a newer message: {late_repeats}"
        )


def token_of_call(call: Call) -> str:
    """The prompt token of a send's keyboard ("" without one)."""
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard") or []
    return str(rows[0][0]["callback_data"]).split("|", 1)[0] if rows else ""
