"""The questionnaire edited in place: a press costs answerCallbackQuery and one edit.

The pressed question's message becomes the next question, after "✓ <the answer>"; results and
notices stay new messages; a message that cannot be edited any more gets the question as a new
message; an edit delivered twice (a crash between the call and marking it sent) shows nothing twice.
"""

from __future__ import annotations

import pytest
from telegram import Bot

from bot.render import OutgoingEdit, OutgoingMessage, answered_text, render_reply
from bot.sender import Sender
from driver import NOW, Driver
from fakebot import FakeBotAPI
from fakebot.harness import outbox_drained, polling_bot
from fakebot.walker import option_ids
from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.domain.events import Button, Choice, Reply
from neuroseq_core.service import Service
from neuroseq_core.store.memory import MemoryStore

# ---- the engine: which reply may take the pressed message's place --------------------------------


def press_on(d: Driver, option_id: str, message_id: int | None = 41) -> list[Reply]:
    assert d.last is not None
    return d.send(Choice(now=NOW, option_id=option_id, token=d.last.token, message_id=message_id))


def test_a_questionnaire_press_is_answered_in_the_pressed_message(content: Content):
    d = Driver(content)
    press_on(d, "agree")
    label = next(b.label for b in d.last.choices if b.id == "parent")
    [reply] = press_on(d, "parent", message_id=41)
    assert reply.kind == "question" and reply.edits == 41 and reply.echo == label
    assert d.session.state == "age_band"
    # Each question after it, too, with the label just pressed.
    d.send(Choice(now=NOW, option_id="6-11", token=d.last.token, message_id=41))
    chosen = d.last.choices[1]
    [reply] = press_on(d, chosen.id)
    assert reply.edits == 41 and reply.echo == chosen.label and "2 of 5" in reply.text


def test_what_is_not_a_next_question_stays_a_new_message(content: Content):
    d = Driver(content)
    # The disclaimer stays on screen: consent is not edited away.
    replies = press_on(d, "agree")
    assert all(r.edits is None for r in replies)
    # Typed (or from the console): no message to edit.
    press_on(d, "parent", message_id=None)
    assert all(r.edits is None for r in d.replies)
    press_on(d, "6-11")
    # A stale button (an earlier question's token) is refused, and nothing is edited.
    old = d.last.token
    press_on(d, d.last.choices[0].id)
    stale = d.send(Choice(now=NOW, option_id="sometimes", token=old, message_id=41))
    assert all(r.edits is None for r in stale)
    # The last answer brings the results: new messages, the question is only marked answered.
    while d.session.state == "questions":
        replies = press_on(d, d.last.choices[0].id)
    assert len(replies) > 1 and all(r.edits is None for r in replies)
    assert any(r.kind == "result" for r in replies)


def test_render_in_place_and_its_limits():
    reply = Reply(
        text="<b>2 of 5</b> Q?", choices=[Button(id="a", label="A")], token="t", edits=9, echo="<Often>"
    )
    [edit] = render_reply(reply)
    assert isinstance(edit, OutgoingEdit) and edit.message_id == 9
    assert edit.text == "✓ &lt;Often&gt;\n\n<b>2 of 5</b> Q?" and edit.keyboard is not None
    # Too long for one message with the echo: sent as new messages, as any long reply.
    long = reply.model_copy(update={"text": "word " * 900})
    parts = render_reply(long)
    assert len(parts) > 1 and all(isinstance(p, OutgoingMessage) for p in parts)


def test_the_last_question_shows_only_its_own_answer():
    # The question before the results is marked answered; the echo of the one before it goes.
    assert answered_text("✓ Often\n\n<b>5 of 5</b> Q?", "Rarely") == "<b>5 of 5</b> Q?\n\n✓ Rarely"
    assert answered_text("<b>1.</b> Q?", "Mixed") == "<b>1.</b> Q?\n\n✓ Mixed"


# ---- through Telegram ---------------------------------------------------------------------------


@pytest.fixture
def service(store, content: Content):
    return Service(store, ContentHolder(content))


def calls_since(api: FakeBotAPI, mark: int) -> list[str]:
    return [c.method for c in api.calls[mark:] if c.method != "getUpdates"]


async def test_a_press_costs_an_answer_and_one_edit(api: FakeBotAPI, store, service):
    async with polling_bot(api, store, service):
        user = api.user(501)
        user.send_command("start")
        consent = await user.wait_for_keyboard(timeout=10)
        user.press(option_ids(consent).index("agree"), consent)
        role = await user.wait_for_keyboard(timeout=10)
        user.press(option_ids(role).index("parent"), role)
        age = await user.wait_for_keyboard(timeout=10)
        assert age.message_id == role.message_id and role.superseded  # the same message, asked anew
        assert age.text.startswith("✓ ") and "How old" in age.text
        for _ in range(3):
            await outbox_drained(store)
            mark = len(api.calls)
            label = user.last_keyboard().labels[1]
            user.press(1)
            question = await user.wait_for_keyboard(timeout=10)
            await api.wait_until(lambda m=mark: "answerCallbackQuery" in calls_since(api, m), timeout=5)
            assert sorted(calls_since(api, mark)) == ["answerCallbackQuery", "editMessageText"]
            assert question.text.startswith(f"✓ {label}\n\n") and " of 5" in question.text
        # The chat reads as a conversation: each question once, the earlier ones as they were.
        shown = [m for m in user.messages if m.message_id == role.message_id]
        assert [m.superseded for m in shown] == [True] * (len(shown) - 1) + [False]
        assert "Who are you thinking about" in shown[0].text


async def test_a_question_that_cannot_be_edited_comes_as_a_new_message(api: FakeBotAPI, store, service):
    async with polling_bot(api, store, service):
        user = api.user(502)
        user.send_command("start")
        consent = await user.wait_for_keyboard(timeout=10)
        user.press(option_ids(consent).index("agree"), consent)
        role = await user.wait_for_keyboard(timeout=10)
        # Deleted by the user, or too old to edit: Telegram refuses the edit.
        api.fail_next("editMessageText", status=400, description="Bad Request: message to edit not found")
        user.press(option_ids(role).index("parent"), role)
        age = await user.wait_for_keyboard(timeout=10)
        assert age.message_id != role.message_id and "How old" in age.text
        assert age.text.startswith("✓ ")
        assert await outbox_drained(store)


async def test_an_edit_delivered_twice_shows_nothing_twice():
    async with FakeBotAPI() as api:
        user = api.user(503)
        store = MemoryStore()
        async with Bot(api.token, base_url=api.base_url) as bot:
            sent = await bot.send_message(user.id, "Q1", reply_markup=None)
            sender = Sender(bot, store)
            reply = Reply(
                text="Q2", choices=[Button(id="a", label="A")], token="t", edits=sent.message_id, echo="B"
            )
            [part] = render_reply(reply)
            await sender._request(str(user.id), part)
            await sender._request(str(user.id), part)  # Telegram: "message is not modified"
        assert [c.method for c in api.calls if c.method != "getMe"] == [
            "sendMessage",
            "editMessageText",
            "editMessageText",
        ]
        assert not api.calls[-1].ok  # refused as not modified, and taken as shown
        live = [m for m in user.messages if not m.superseded]
        assert [m.text for m in live] == ["✓ B\n\nQ2"]
