"""The adapter under trouble: 429s, 5xx, timeouts, blocked users, odd input, oversized replies.

The real Application (polling mode) talks to the fake Bot API; the service is a small scripted
stand-in over the real memory store (tests/fakebot/service.py), so these run without the engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.polling import IDLE_REPOLL
from bot.render import (
    MAX_TEXT,
    OutgoingMessage,
    OutgoingPhoto,
    RenderError,
    callback_data,
    keyboard,
    parse_callback_data,
    render_reply,
    split_html,
    visible_length,
)
from bot.telegram_events import AddedToGroup, Ignored, Incoming, MemberStatus, map_update, parse_command
from fakebot import parse_html
from fakebot.harness import outbox_drained, polling_bot
from neuroseq_core.domain.events import Button, Choice, Command, Picture, Reply, Start, Text, Unsupported

pytestmark = pytest.mark.fault


# ---- delivery faults -------------------------------------------------------------------------


async def test_429_waits_retry_after_and_loses_nothing(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(100)
        api.fail_next("sendMessage", retry_after=1)
        started = time.monotonic()
        user.send_command("start")
        await user.wait_for_message(lambda m: m.text == "Welcome", timeout=10)
        question = await user.wait_for_keyboard(timeout=10)
        assert time.monotonic() - started >= 1.0
        assert question.labels == ["Mostly calm", "Mixed", "Often hard"]
        assert [c.status for c in api.calls_to("sendMessage")][:1] == [429]
        assert await outbox_drained(store)


async def test_5xx_is_retried(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(101)
        api.fail_next("sendMessage", times=2, status=500)
        api.fail_next("sendMessage", times=1, status=502)
        user.send_text("hello")
        message = await user.wait_for_message(timeout=10)
        assert message.text == "You said: hello"
        assert [c.status for c in api.calls_to("sendMessage")] == [500, 500, 502, 200]
        assert await outbox_drained(store)


async def test_timeouts_are_retried(api, store, service):
    async with polling_bot(api, store, service, http_timeout=0.5):
        user = api.user(102)
        api.fail_next("sendMessage", delay=1.5)
        user.send_text("slow")
        message = await user.wait_for_message(timeout=10)
        assert message.text == "You said: slow"
        # A timed-out request may still have arrived (as on Telegram): at least once, never lost.
        assert await outbox_drained(store)
        assert len(api.calls_to("sendMessage")) >= 1


async def test_failed_delivery_is_left_for_the_flusher(api, store, service):
    async with polling_bot(api, store, service, retries=1):
        user = api.user(103)
        api.fail_next("sendMessage", times=3, status=500)
        user.send_text("later")
        message = await user.wait_for_message(timeout=10)
        assert message.text == "You said: later"
        statuses = [c.status for c in api.calls_to("sendMessage")]
        assert statuses[:3] == [500, 500, 500] and statuses[-1] == 200
        assert await outbox_drained(store)


async def test_pending_outbox_is_sent_at_start(api, store, service):
    # A reply committed before a crash (never sent) goes out when the bot starts.
    async with store.transaction("104") as tx:
        await tx.add_outbox("104", [Reply(text="left over")])
    async with polling_bot(api, store, service):
        user = api.user(104)
        assert (await user.wait_for_message(timeout=10)).text == "left over"
        assert await outbox_drained(store)


async def test_403_marks_only_that_user_inactive(api, store, service):
    async with polling_bot(api, store, service):
        blocked, other = api.user(105), api.user(106)
        api.fail_next("sendMessage", times=100, status=403, chat_id=105)
        blocked.send_text("hi")
        other.send_text("hi too")
        assert (await other.wait_for_message(timeout=10)).text == "You said: hi too"
        await api.wait_until(lambda: any(c.status == 403 for c in api.calls_to("sendMessage")), timeout=10)
        assert await outbox_drained(store)
        assert await store.is_active("105") is False
        assert await store.is_active("106") is True
        assert blocked.messages == []
        # One 403 is enough: the blocked user's reply is dropped, not retried.
        assert sum(c.status == 403 for c in api.calls_to("sendMessage")) == 1


async def test_block_and_unblock_via_my_chat_member(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(107)
        user.send_text("hi")
        await user.wait_for_message(timeout=10)
        user.block()
        await asyncio.sleep(0.1)
        for _ in range(50):
            if not await store.is_active("107"):
                break
            await asyncio.sleep(0.05)
        assert await store.is_active("107") is False
        user.unblock()
        for _ in range(50):
            if await store.is_active("107"):
                break
            await asyncio.sleep(0.05)
        assert await store.is_active("107") is True
        assert len(service.events) == 1  # membership changes are not conversation events


async def test_handler_failure_apologises_once_and_retries_the_update(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(108, language_code="de")
        service.fail_next = 1
        user.send_text("first")
        apology = await user.wait_for_message(timeout=10)
        assert apology.text == "notice error.apology"
        answer = await user.wait_for_message(timeout=10)
        assert answer.text == "You said: first"
        assert ("error.apology", "de") in service.notices
        assert [m.text for m in user.messages].count("notice error.apology") == 1


async def test_a_poison_update_is_given_up_and_others_go_on(api, store, service):
    async with polling_bot(api, store, service, retry_window=1.0):
        user, other = api.user(109), api.user(110)
        service.fail_next = 10**6
        user.send_text("poison")
        await user.wait_for_message(lambda m: m.text == "notice error.apology", timeout=10)
        await api.wait_until(lambda: api.pending_updates == 0, timeout=10)
        service.fail_next = 0
        other.send_text("still here")
        assert (await other.wait_for_message(timeout=10)).text == "You said: still here"


async def test_logs_carry_no_token_and_no_text(api, store, service, caplog):
    caplog.set_level(logging.DEBUG)
    async with polling_bot(api, store, service):
        user = api.user(111)
        service.fail_next = 1
        user.send_text("my secret worry")
        await user.wait_for_message(lambda m: m.text.startswith("You said"), timeout=10)
    assert caplog.records, "expected some logs"
    assert api.token not in caplog.text
    assert "my secret worry" not in caplog.text


# ---- odd input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (lambda u: u.send_sticker(), "unsupported sticker"),
        (lambda u: u.send_photo(), "unsupported photo"),
        (lambda u: u.send_voice(), "unsupported voice"),
        (lambda u: u.send_document(), "unsupported document"),
        (lambda u: u.send_location(), "unsupported location"),
        (lambda u: u.edit_text(1, "changed my mind"), "unsupported edited_message"),
        (lambda u: u.send_photo(caption="my child <3"), "You said: my child <3"),
        (lambda u: u.send_command("Help@neuroseq_test_bot"), "command help"),
    ],
    ids=["sticker", "photo", "voice", "document", "location", "edited", "caption", "command@bot"],
)
async def test_non_text_input_gets_a_sensible_answer(api, store, service, send, expected):
    async with polling_bot(api, store, service):
        user = api.user(120)
        send(user)
        message = await user.wait_for_message(timeout=10)
        assert message.text == expected


async def test_text_over_the_limit_is_cut_and_answered(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(121)
        user.send_text("x" * 5000)  # Telegram never delivers this much; the adapter guards anyway
        await api.wait_until(lambda: len(user.messages) == 2, timeout=10)
        assert [m.text for m in user.messages] == ["You said:", "x" * 4096]


async def test_group_chats_store_nothing(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(130)
        user.add_bot_to_group(-500)
        user.send_in_group(-500, "hello bot")
        user.send_in_group(-500, "/start")
        await api.wait_until(lambda: bool(api.chat_messages(-500)), timeout=10)
        await api.wait_until(lambda: api.pending_updates == 0, timeout=10)
        await asyncio.sleep(0.3)
        assert [m.text for m in api.chat_messages(-500)] == ["notice group.private_only"]
        assert service.events == []
        assert await store.pending_outbox() == []


async def test_odd_callback_data_is_answered_and_harmless(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(140)
        user.send_command("start")
        question = await user.wait_for_keyboard(timeout=10)
        for data in ["garbage", "|", "t1|", "x" * 64]:
            user.press_data(data, question)
        await api.wait_until(lambda: len(api.answered_callbacks) == 4, timeout=10)
        assert service.events[1:] == [], service.events
        assert question.edits == 0
        first_data = question.keyboard[0][0]["callback_data"]
        user.press(0, question)
        await user.wait_for_keyboard(timeout=10)
        user.press_data(first_data, question)  # a stale press on the first question (e.g. a double tap)
        stale = await user.wait_for_message(lambda m: m.text == "That question has passed.", timeout=10)
        assert stale is not None
        # Every press is answered (the answer may land just after the reply: they run side by side).
        await api.wait_until(lambda: len(api.answered_callbacks) == 6, timeout=10)
        assert [type(event).__name__ for _user, event in service.events] == ["Start", "Choice", "Choice"]


async def test_press_edits_the_question_to_show_the_answer(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(141)
        user.send_command("start")
        question = await user.wait_for_keyboard(timeout=10)
        user.press("Mixed")
        await user.wait_for_keyboard(timeout=10)
        await api.wait_until(lambda: question.edits == 1, timeout=10)
        assert question.text == "1. How are mornings?\n\n✓ Mixed"
        assert question.keyboard == []
        assert question.source_html == "<b>1.</b> How are mornings?\n\n✓ Mixed"


async def test_oversized_reply_is_split_into_valid_messages(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(150)
        user.send_command("long")
        await api.wait_until(lambda: len(user.messages) >= 3, timeout=10)
        await asyncio.sleep(0.2)
        texts = [m.text for m in user.messages]
        assert all(len(t) <= 4096 for t in texts)
        assert "\n".join(texts) == "\n".join(f"line {i} " + "x" * 60 for i in range(150))
        assert all(c.ok for c in api.calls_to("sendMessage"))


async def test_result_picture_is_sent_before_its_text(api, store, service):
    async with polling_bot(api, store, service):
        user = api.user(160)
        user.send_command("start")
        await user.wait_for_keyboard(timeout=10)
        user.press(0)
        await user.wait_for_keyboard(timeout=10)
        user.press(0)
        photo = await user.wait_for_message(timeout=10)
        assert photo.is_photo and photo.photo.startswith(b"\x89PNG") and photo.text == "Start with Regulate"
        text = await user.wait_for_message(timeout=10)
        assert text.text == "Thank you. Here is where to start."


async def test_stop_confirms_processed_updates(api, store, service):
    async with polling_bot(api, store, service) as bot:
        user = api.user(170)
        user.send_text("one")
        await user.wait_for_message(timeout=10)
        assert await bot.shutdown() == 0
    assert api.pending_updates == 0


# ---- render and mapping, without a server ----------------------------------------------------


def test_callback_data_limit_is_checked():
    assert callback_data("t12", "calm") == "t12|calm"
    assert parse_callback_data("t12|calm") == ("t12", "calm")
    assert parse_callback_data("|calm") == (None, "calm")
    assert parse_callback_data("nonsense") is None
    with pytest.raises(RenderError):
        callback_data("t" * 30, "o" * 34)
    with pytest.raises(RenderError):
        render_reply(Reply(text="q", choices=[Button(id="é" * 40, label="x")], token="t"))


@pytest.mark.parametrize(
    ("labels", "rows"),
    [
        (["Yes", "No"], [2]),
        (["1", "2", "3", "4", "5"], [3, 2]),
        (["Never", "Rarely", "Often", "Always"], [4]),
        (["Mostly calm", "Mixed", "Often hard"], [3]),
        (["Settles quickly", "Takes a while", "Hard to settle"], [2, 1]),
        (["Settles within a few minutes", "Takes a long while"], [1, 1]),
        ([str(i) for i in range(20)], [4] * 5),
    ],
)
def test_keyboard_layout_by_label_length(labels, rows):
    markup = keyboard([Button(id=f"o{i}", label=label) for i, label in enumerate(labels)], "t")
    assert [len(r) for r in markup.inline_keyboard] == rows
    # Reading order is kept (least to most concern).
    assert [b.text for r in markup.inline_keyboard for b in r] == labels
    assert all(len(r) <= 8 for r in markup.inline_keyboard)


def test_render_reply_shapes():
    pic = Picture(
        steps=["Regulate", "Relate", "Reason"],
        start_index=1,
        caption="<b>Start</b> with Relate",
        title="Start here",
    )
    parts = render_reply(Reply(text="Here", picture=pic, choices=[Button(id="a", label="OK")], token="t"))
    assert isinstance(parts[0], OutgoingPhoto) and parts[0].caption == "<b>Start</b> with Relate"
    assert isinstance(parts[1], OutgoingMessage) and parts[1].keyboard is not None
    long_caption = Picture(steps=["a"], start_index=0, caption="w " * 700)
    parts = render_reply(Reply(text="t", picture=long_caption))
    assert parts[0].caption == "" and [type(p) for p in parts[1:]] == [OutgoingMessage, OutgoingMessage]
    long = render_reply(
        Reply(text="<b>" + "word " * 2000 + "</b>", choices=[Button(id="a", label="OK")], token="t")
    )
    assert len(long) == 3 and [p.keyboard is not None for p in long] == [False, False, True]
    with pytest.raises(RenderError):
        render_reply(Reply(text=" ", choices=[Button(id="a", label="OK")], token="t"))


html_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300).map(
            lambda s: html.escape(s, quote=False)
        ),
        st.sampled_from(["\n", "\n\n", " ", "🙂", "&amp;"]),
        st.text(alphabet="ab \n", min_size=1, max_size=80).map(lambda s: f"<b>{html.escape(s)}</b>"),
        st.text(alphabet="cd \n", min_size=1, max_size=80).map(lambda s: f"<i>x{html.escape(s)}<b>y</b></i>"),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(html_text, st.integers(min_value=20, max_value=500))
def test_split_html_keeps_limits_tags_and_text(text, limit):
    parts = split_html(text, limit)
    plain_whole, _ = parse_html(text)
    plains = []
    for part in parts:
        assert visible_length(part) <= limit
        plain, _ = parse_html(part)  # every part is valid Telegram HTML on its own
        assert plain.strip()
        plains.append(plain)
    # Nothing but line breaks at the cuts (and blank edges) is lost.
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert squash("".join(plains)) == squash(plain_whole)


def test_split_prefers_line_breaks():
    text = "\n".join(f"<b>{i:04d}</b> " + "y" * 90 for i in range(100))
    parts = split_html(text, MAX_TEXT)
    assert len(parts) == 3
    assert all(p.startswith("<b>") and p.endswith("y") for p in parts)


def _update(data):
    return Update.de_json(data, None)


USER = {"id": 7, "is_bot": False, "first_name": "A", "language_code": "fr"}
PRIVATE = {"id": 7, "type": "private", "first_name": "A"}
GROUP = {"id": -9, "type": "group", "title": "G"}
BOT = {"id": 1, "is_bot": True, "first_name": "Bot"}


def _message(chat=PRIVATE, **fields):
    return {"message_id": 1, "date": 0, "chat": chat, "from": USER, **fields}


def test_map_update_events():
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    start = map_update(_update({"update_id": 1, "message": _message(text="/start ref42")}), now)
    # A deep link's parameter comes with /start (an invite code, if it is one).
    assert isinstance(start, Incoming) and start.event == Start(language="fr", payload="ref42", now=now)
    odd = map_update(_update({"update_id": 1, "message": _message(text="/start not/a code")}), now)
    assert odd.event == Start(language="fr", now=now)
    assert (start.user_id, start.chat_id) == ("7", "7")
    cmd = map_update(
        _update({"update_id": 2, "message": _message(text="/Delete@neuroseq_bot now please")}), now
    )
    assert cmd.event == Command(name="delete", args="now please", now=now)
    text = map_update(_update({"update_id": 3, "message": _message(text="/ not a command")}), now)
    assert text.event == Text(text="/ not a command", now=now)
    shown = _message(text="Q", date=1_700_000_000)
    query = {"id": "q", "from": USER, "chat_instance": "c", "data": "t3|calm", "message": shown}
    press = map_update(_update({"update_id": 4, "callback_query": query}), now)
    # The pressed message's id goes with the press: its question can be edited into the next one.
    assert press.event == Choice(option_id="calm", token="t3", message_id=1, now=now)
    assert press.callback_query_id == "q"
    # A message Telegram no longer shows us (date 0: inaccessible) cannot be edited.
    gone = {**query, "message": _message(text="Q")}
    old = map_update(_update({"update_id": 4, "callback_query": gone}), now)
    assert old.event == Choice(option_id="calm", token="t3", now=now)
    edited = map_update(_update({"update_id": 5, "edited_message": _message(text="x", edit_date=1)}), now)
    assert edited.event == Unsupported(what="edited_message", text="x", now=now)
    dice = map_update(_update({"update_id": 6, "message": _message(dice={"emoji": "🎲", "value": 3})}), now)
    assert dice.event == Unsupported(what="dice", now=now)


def test_map_update_groups_and_membership():
    def member(chat, old, new):
        def m(status):
            return {"user": BOT, "status": status, **({"until_date": 0} if status == "kicked" else {})}

        return {
            "update_id": 9,
            "my_chat_member": {
                "chat": chat,
                "from": USER,
                "date": 0,
                "old_chat_member": m(old),
                "new_chat_member": m(new),
            },
        }

    assert map_update(_update(member(GROUP, "left", "member"))) == AddedToGroup(chat_id="-9", language="fr")
    assert isinstance(map_update(_update(member(GROUP, "member", "left"))), Ignored)
    assert map_update(_update(member(PRIVATE, "member", "kicked"))) == MemberStatus(user_id="7", active=False)
    assert map_update(_update(member(PRIVATE, "kicked", "member"))) == MemberStatus(user_id="7", active=True)
    assert isinstance(
        map_update(_update({"update_id": 10, "message": _message(chat=GROUP, text="/start")})), Ignored
    )
    service_message = _message(new_chat_title="x")
    assert isinstance(map_update(_update({"update_id": 11, "message": service_message})), Ignored)
    bot_query = {"id": "q", "from": BOT, "chat_instance": "c", "data": "t|a", "message": _message(text="Q")}
    ignored = map_update(_update({"update_id": 12, "callback_query": bot_query}))
    assert isinstance(ignored, Ignored) and ignored.callback_query_id == "q"


def test_parse_command():
    assert parse_command("/start") == ("start", "")
    assert parse_command("/HELP@bot x") == ("help", "x")
    assert parse_command("/") is None and parse_command("hello") is None and parse_command("/a-b") is None


async def test_a_slow_chat_never_holds_the_others_and_stays_unconfirmed(api, store, service):
    async with polling_bot(api, store, service, http_timeout=10.0):
        slow, quick = api.user(121), api.user(122)
        api.fail_next("sendMessage", delay=3.0, chat_id=121, status=200)  # its reply takes 3 s
        slow.send_text("first")
        await api.wait_until(lambda: "sendMessage" in api.started, timeout=10)
        started = time.monotonic()
        quick.send_text("second")
        assert (await quick.wait_for_message(timeout=10)).text == "You said: second"
        assert time.monotonic() - started < 2.0, "the quick chat waited for the slow one"
        # The slow update is still running, so it is not confirmed: a crash now would get it again.
        assert api.pending_updates >= 1
        assert (await slow.wait_for_message(timeout=10)).text == "You said: first"
        await api.wait_until(lambda: api.pending_updates == 0, timeout=10)


async def test_running_updates_are_not_fetched_again_for_each_new_press(api, store, service):
    # Every getUpdates hands back each update still running (it is unconfirmed). Asking again at
    # once for each new press meant downloading and decoding all the running ones again each time;
    # while chats run, getUpdates comes at most once per IDLE_REPOLL (or when a share has finished).
    async with polling_bot(api, store, service, http_timeout=10.0):
        users = [api.user(400 + i) for i in range(40)]
        for user in users:
            api.fail_next("sendMessage", delay=0.5, chat_id=user.id, status=200)  # a slow reply each
        first = len(api.calls_to("getUpdates"))
        started = time.monotonic()
        for user in users:
            user.send_text("hello")
            await asyncio.sleep(0.005)
        for user in users:
            assert (await user.wait_for_message(timeout=20)).text == "You said: hello"
        elapsed = time.monotonic() - started
        polls = [c for c in api.calls_to("getUpdates")[first:] if c.ok]
        assert len(polls) <= elapsed / IDLE_REPOLL + 5, (len(polls), elapsed)
        handed = [u["update_id"] for c in polls for u in c.result]
        assert len(set(handed)) == len(users)  # every press handed out (and answered above)
