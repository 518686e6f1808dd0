"""SIGKILL the running bot mid-conversation, restart it, finish: nothing is lost, nothing repeats.

The bot runs as a real `neuroseq run` process against the fake Bot API on 127.0.0.1, with its
state in a SQLite file; the test kills it with SIGKILL between two presses.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from cli import start_cli
from fakebot import FakeBotAPI, FakeUser

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parent.parent


def start_bot(api: FakeBotAPI, db: Path) -> subprocess.Popen[bytes]:
    return start_cli(
        ["run"],
        TELEGRAM_BOT_TOKEN=api.token,
        NEUROSEQ_TELEGRAM_API_URL=api.base_url,
        NEUROSEQ_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        NEUROSEQ_LOG_LEVEL="WARNING",
    )


def stored_answers(db: Path, user_id: int) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT data FROM sessions WHERE user_id = ?", (str(user_id),)).fetchone()
    return json.loads(row[0])["answers"] if row else {}


def option_ids(message) -> list[str]:
    return [b["callback_data"].split("|", 1)[1] for row in message.keyboard for b in row]


async def press_and_wait(user: FakeUser, option: str) -> None:
    message = user.last_keyboard()
    index = option_ids(message).index(option)
    user.press(index)
    await user.wait_for_keyboard(timeout=20)


async def test_sigkill_mid_conversation_then_resume(tmp_path):
    db = tmp_path / "bot.db"
    async with FakeBotAPI() as api:
        user = api.user(4242)
        proc = start_bot(api, db)
        try:
            user.send_command("start")
            await user.wait_for_keyboard(timeout=30)
            for pick in ("agree", "parent", "6-11"):
                await press_and_wait(user, pick)
            for _ in range(4):
                await press_and_wait(user, option_ids(user.last_keyboard())[2])
            # Let the last commit settle, then kill the process without any chance to clean up.
            await asyncio.sleep(0.3)
            before = stored_answers(db, user.id)
            assert len(before) == 4
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            question_before = user.last_keyboard()

            proc = start_bot(api, db)
            # A press on the question that was on screen when it died is handled by the new process.
            user.press(1, message=question_before)
            await user.wait_for_keyboard(timeout=30)
            after = stored_answers(db, user.id)
            assert {k: v for k, v in after.items() if k in before} == before
            assert len(after) == 5
            # Finish the conversation.
            for _ in range(60):
                ids = option_ids(user.last_keyboard())
                if {"more", "restart"} <= set(ids):
                    break
                await press_and_wait(user, ids[1])
            assert {"more", "restart"} <= set(option_ids(user.last_keyboard()))
            assert any(m.is_photo for m in user.messages)
            texts = [m.text for m in user.messages]
            assert sum("Start with" in t or "Thank you" in t for t in texts) >= 1
            # Exactly one reply per question: no question was sent twice.
            # (A question shown in place of the one answered begins with "✓ <answer>" and a blank line.)
            headings = [t.split("\n\n", 1)[-1] if t.startswith("✓ ") else t for t in texts]
            questions = [h for h in headings if re.search(r"\b\d+ of \d+\b", h.splitlines()[0])]
            assert len(questions) >= 5, texts  # the questions were found, so the check below means something
            assert len(questions) == len(set(questions))
        except AssertionError:
            proc.send_signal(signal.SIGTERM)
            err = proc.communicate(timeout=15)[1].decode(errors="replace")
            print("bot stderr:", err[-3000:])
            print("messages:", [m.text[:50] for m in user.messages])
            print("calls:", [(c.method, c.ok) for c in api.calls][-15:], proc.returncode)
            raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
