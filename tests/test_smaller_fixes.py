# ruff: noqa: F811  (a test takes the imported `client` fixture by name)
"""The smaller points of #15: /reload reaches every process, one stale-press notice per question, no
second edit for a redelivered press, the chat checked against the sender, no apology after a reply
that was delivered, and error lines that carry their cause (never the data)."""

from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from telegram import Update
from test_admin import ADMIN, Chat, edit
from test_webhook import SECRET, client  # noqa: F401  (the webhook fixture)

from bot.sender import Sender
from bot.telegram_events import Ignored, map_update
from bot.webhook import SECRET_HEADER
from driver import NOW
from fakebot.harness import polling_bot
from neuroseq_core.content import ContentHolder, load_or_raise
from neuroseq_core.domain.events import Choice, Command, Reply
from neuroseq_core.service import Service
from neuroseq_core.service.logs import FORMAT, FieldsFormatter, cause_of
from neuroseq_core.store.memory import MemoryStore
from neuroseq_core.store.open import open_store


async def test_a_reload_in_one_process_reaches_the_others(copy, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    stores = [await open_store(url), await open_store(url)]
    services = [
        Service(store, ContentHolder(load_or_raise(copy), root=copy), admin_ids=[int(ADMIN)])
        for store in stores
    ]
    assert not await services[1].follow_reloads()  # the first look only learns where things stand
    edit(copy / "messages/en/main.yaml", "role.question: Who are you thinking about today?",
         "role.question: Who is on your mind today?")  # fmt: skip
    assert "Reloaded" in await Chat(services[0], ADMIN).send(Command(now=NOW, name="reload"))
    assert not await services[0].follow_reloads()  # its own reload: nothing more to do
    assert await services[1].follow_reloads()  # the other process follows
    assert services[1].content.current.template("role.question", "en") == "Who is on your mind today?"
    assert not await services[1].follow_reloads()
    for store in stores:
        await store.close()


async def test_ten_taps_on_a_passed_button_get_one_notice(content):
    service = Service(MemoryStore(), ContentHolder(content))
    chat = Chat(service, "tapper")
    await chat.onboard()
    passed = chat.last
    await chat.press(chat.option_ids[0])  # answered: that question has passed
    answers = []
    for _ in range(10):
        items = await service.handle(
            "tapper", "tapper", Choice(now=NOW, option_id="often", token=passed.token)
        )
        answers.append(len(items))
    assert answers[0] > 0 and answers[1:] == [0] * 9


def _press_update(user_id: int, chat_id: int, data: str) -> Update:
    return Update.de_json(
        {
            "update_id": 5,
            "callback_query": {
                "id": "q1",
                "from": {"id": user_id, "is_bot": False, "first_name": "A"},
                "message": {
                    "message_id": 3,
                    "date": 0,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": "q",
                },
                "chat_instance": "ci",
                "data": data,
            },
        },
        None,
    )


def test_a_chat_that_is_not_the_senders_is_ignored():
    action = map_update(_press_update(111, 222, "t1|often"), NOW)
    assert isinstance(action, Ignored) and action.reason == "chat is not the sender's"
    assert action.callback_query_id == "q1"  # the spinner still stops
    message = Update.de_json(
        {
            "update_id": 6,
            "message": {
                "message_id": 4,
                "date": 0,
                "chat": {"id": 333, "type": "private"},
                "from": {"id": 444, "is_bot": False, "first_name": "B"},
                "text": "hello",
            },
        },
        None,
    )
    assert isinstance(map_update(message, NOW), Ignored)


async def test_a_redelivered_press_is_not_edited_again(api, client):
    user = api.user(720)
    start = api.update_json(
        "message",
        user.message_json(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    )
    headers = {SECRET_HEADER: SECRET}
    assert (await client.post("/telegram/hook", json=start, headers=headers)).status_code == 200
    question = user.last_keyboard()
    press = api.update_json(
        "callback_query",
        {"id": "cb1", "from": user.json(), "message": question.raw, "chat_instance": "ci",
         "data": question.keyboard[0][1]["callback_data"]},
    )  # fmt: skip
    assert (await client.post("/telegram/hook", json=press, headers=headers)).status_code == 200
    edits, sends = len(api.calls_to("editMessageText")), len(api.calls_to("sendMessage"))
    assert edits == 1
    for _ in range(5):  # Telegram did not get our 200: the same press, again and again
        assert (await client.post("/telegram/hook", json=press, headers=headers)).status_code == 200
    assert len(api.calls_to("editMessageText")) == edits
    assert len(api.calls_to("sendMessage")) == sends


async def test_an_old_button_does_not_mark_its_message_answered(api, content):
    import copy

    service = Service(MemoryStore(), ContentHolder(content))
    async with polling_bot(api, service.store, service):
        user = api.user(730)
        user.send_command("start")
        consent = await user.wait_for_keyboard(timeout=10)
        before = copy.deepcopy(consent)  # as it was on screen, buttons and all
        user.press(0, consent)
        await user.wait_for_keyboard(timeout=10)
        edits = len(api.calls_to("editMessageText"))
        user.press_data(before.keyboard[0][1]["callback_data"], before)  # "Not now", on the old message
        notice = await user.wait_for_message(lambda m: "earlier question" in m.text, timeout=10)
        assert notice.keyboard  # where we are now, asked again
        assert len(api.calls_to("editMessageText")) == edits  # the old message keeps "✓ Yes, let's begin"


class FlakyStore(MemoryStore):
    """mark_sent fails a few times after the message went out."""

    failures = 0

    async def mark_sent(self, item_id: int) -> None:
        if self.failures:
            self.failures -= 1
            raise sa.exc.OperationalError("DELETE FROM outbox", {}, Exception("database is locked"))
        await super().mark_sent(item_id)


class RecordingBot:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_message(self, chat_id: str, text: str, **_: object) -> None:
        self.sent.append(text)


async def test_a_delivered_reply_is_never_followed_by_an_apology():
    store = FlakyStore()
    bot = RecordingBot()
    sender = Sender(bot, store)  # type: ignore[arg-type]
    async with store.transaction("u1") as tx:
        items = await tx.add_outbox("u1", [Reply(text="here it is")])
    store.failures = 2  # the database stumbles just after the send
    assert await sender.deliver(items) == ["sent"]
    assert bot.sent == ["here it is"]
    assert await store.pending_outbox() == []  # marked once the store was back


def test_error_lines_carry_their_cause_and_never_the_statement():
    error = sa.exc.OperationalError(
        "UPDATE sessions SET data=? WHERE user_id=?",
        ('{"nickname": "Zephyrine"}', "42"),
        sqlite3.OperationalError("database or disk is full"),
    )
    assert cause_of(error) == "OperationalError(OperationalError: database or disk is full)"

    class DataError(Exception):  # as asyncpg's: its message quotes the value
        sqlstate = "22P02"

    pg = sa.exc.DBAPIError(
        "INSERT ...", ("Zephyrine",), DataError("invalid input for query argument $1: 'Zephyrine'")
    )
    assert cause_of(pg) == "DBAPIError(DataError 22P02)"

    record = logging.LogRecord("bot.app", logging.ERROR, "p", 1, "update failed", None, None)
    record.update_id, record.error = 17, cause_of(error)
    line = FieldsFormatter(FORMAT).format(record)
    assert line.endswith(
        "update failed update_id=17 error=OperationalError(OperationalError: database or disk is full)"
    )
    assert "Zephyrine" not in line and "UPDATE" not in line
