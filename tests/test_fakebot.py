"""The fake Bot API itself: HTTP shape, Telegram's limits, update confirmation, fault injection."""

from __future__ import annotations

import asyncio
import html
import io
import json
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakebot import parse_html
from fakebot.server import ApiError


@pytest.fixture
async def client(api):
    async with httpx.AsyncClient(base_url=f"{api.base_url}{api.token}/", timeout=10) as c:
        yield c


async def call(client, method, **params):
    response = await client.post(
        method, data={k: json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()}
    )
    return response.status_code, response.json()


def markup(*rows):
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


async def test_get_me_and_wrong_token(api, client):
    status, body = await call(client, "getMe")
    assert status == 200 and body["ok"] and body["result"]["is_bot"]
    async with httpx.AsyncClient() as other:
        response = await other.post(f"{api.base_url}999:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_404(client):
    status, body = await call(client, "sendTelepathy", chat_id=1)
    assert status == 404 and body["ok"] is False


@pytest.mark.parametrize(
    ("text", "parse_mode", "expected"),
    [
        ("x" * 4096, None, 200),
        ("x" * 4097, None, "message is too long"),
        ("&amp;" * 4096, "HTML", 200),  # counted after entity parsing
        ("<b>" + "y" * 4096 + "</b>", "HTML", 200),
        ("🙂" * 2049, None, "message is too long"),  # UTF-16 units, as Telegram counts
        ("", None, "message text is empty"),
        ("   ", None, "message text is empty"),
        ("<b>open", "HTML", "can't parse entities"),
        ("<p>para</p>", "HTML", "can't parse entities"),
        ("<b><i>x</b></i>", "HTML", "can't parse entities"),
        ("a < b", "HTML", "can't parse entities"),
        ("a < b", None, 200),
        ("<b>bold</b> and <i>it</i> &lt;ok&gt;", "HTML", 200),
    ],
)
async def test_send_message_limits(api, client, text, parse_mode, expected):
    params = {"chat_id": 5, "text": text}
    if parse_mode:
        params["parse_mode"] = parse_mode
    status, body = await call(client, "sendMessage", **params)
    if expected == 200:
        assert status == 200, body
        assert api.chat_messages(5)[-1].raw["message_id"] == body["result"]["message_id"]
    else:
        assert status == 400 and expected in body["description"]
        assert api.chat_messages(5) == []


async def test_html_becomes_entities(client):
    status, body = await call(
        client, "sendMessage", chat_id=5, text="<b>Hi</b> &amp; <i>you</i>", parse_mode="HTML"
    )
    assert status == 200
    result = body["result"]
    assert result["text"] == "Hi & you"
    assert result["entities"] == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "italic", "offset": 5, "length": 3},
    ]


async def test_json_body_is_accepted(api):
    async with httpx.AsyncClient() as c:
        response = await c.post(
            f"{api.base_url}{api.token}/sendMessage",
            json={"chat_id": 7, "text": "hi", "reply_markup": markup([("A", "t|a")])},
        )
    assert response.status_code == 200
    assert api.chat_messages(7)[0].labels == ["A"]


@pytest.mark.parametrize(
    ("keyboard", "ok"),
    [
        (markup([("A", "x" * 64)]), True),
        (markup([("A", "é" * 32)]), True),  # 64 bytes
        (markup([("A", "x" * 65)]), False),
        (markup([("A", "é" * 33)]), False),  # 66 bytes
        (markup([("A", "")]), False),
        (markup([(str(i), str(i)) for i in range(8)]), True),
        (markup([(str(i), str(i)) for i in range(9)]), False),
        (markup([("", "a")]), False),
        ({"inline_keyboard": [[{"text": "A"}]]}, False),
        ({"inline_keyboard": "nope"}, False),
    ],
)
async def test_keyboard_shape(client, keyboard, ok):
    status, body = await call(client, "sendMessage", chat_id=5, text="q", reply_markup=keyboard)
    assert (status == 200) is ok, body


async def test_send_photo_multipart_and_caption_limit(api):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    url = f"{api.base_url}{api.token}/sendPhoto"
    async with httpx.AsyncClient() as c:
        ok = await c.post(
            url, data={"chat_id": "9", "caption": "c" * 1024}, files={"photo": ("p.png", io.BytesIO(png))}
        )
        long = await c.post(
            url, data={"chat_id": "9", "caption": "c" * 1025}, files={"photo": ("p.png", io.BytesIO(png))}
        )
        not_image = await c.post(url, data={"chat_id": "9"}, files={"photo": ("p.png", io.BytesIO(b"text"))})
    assert ok.status_code == 200 and ok.json()["result"]["caption"] == "c" * 1024
    assert long.status_code == 400 and "caption is too long" in long.json()["description"]
    assert not_image.status_code == 400
    [message] = api.chat_messages(9)
    assert message.photo == png


async def test_get_updates_confirms_by_offset_and_long_polls(api, client):
    user = api.user(11)
    first = user.send_text("one")
    user.send_text("two")
    status, body = await call(client, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == [first, first + 1]
    # Without a new offset, the same updates come again (not confirmed yet).
    _, again = await call(client, "getUpdates")
    assert len(again["result"]) == 2
    _, confirmed = await call(client, "getUpdates", offset=first + 2, timeout=0)
    assert confirmed["result"] == [] and api.pending_updates == 0

    started = time.monotonic()
    waiting = asyncio.create_task(call(client, "getUpdates", offset=first + 2, timeout=5))
    await asyncio.sleep(0.2)
    third = user.send_text("three")
    _, body = await waiting
    assert [u["update_id"] for u in body["result"]] == [third]
    assert time.monotonic() - started < 3

    started = time.monotonic()
    _, empty = await call(client, "getUpdates", offset=third + 1, timeout=1)
    assert empty["result"] == [] and time.monotonic() - started >= 0.9


async def test_get_updates_filters_by_allowed_updates(api, client):
    user = api.user(12)
    user.send_text("hi")
    user.send_sticker()
    user.edit_text(1, "edited")
    _, body = await call(client, "getUpdates", allowed_updates=["edited_message"])
    assert [list(u)[1] for u in body["result"]] == ["edited_message"]


async def test_get_updates_conflicts_with_webhook(client):
    await call(client, "setWebhook", url="https://example.invalid/hook", secret_token="s3cret")
    status, body = await call(client, "getUpdates")
    assert status == 409 and "webhook is active" in body["description"]
    await call(client, "deleteWebhook")
    status, _ = await call(client, "getUpdates")
    assert status == 200


async def test_fault_injection_429_500_403_and_delay(api, client):
    api.fail_next("sendMessage", retry_after=3)
    status, body = await call(client, "sendMessage", chat_id=1, text="a")
    assert status == 429 and body["parameters"] == {"retry_after": 3} and body["error_code"] == 429
    api.fail_next("sendMessage", times=2, status=500)
    assert (await call(client, "sendMessage", chat_id=1, text="a"))[0] == 500
    assert (await call(client, "sendMessage", chat_id=1, text="a"))[0] == 500
    assert (await call(client, "sendMessage", chat_id=1, text="a"))[0] == 200
    api.fail_next("sendMessage", status=403, chat_id=2)
    assert (await call(client, "sendMessage", chat_id=3, text="other chat"))[0] == 200
    status, body = await call(client, "sendMessage", chat_id=2, text="a")
    assert status == 403 and body["description"].startswith("Forbidden")
    api.fail_next("sendMessage", delay=0.5)
    started = time.monotonic()
    assert (await call(client, "sendMessage", chat_id=1, text="slow"))[0] == 200
    assert time.monotonic() - started >= 0.45
    statuses = [c.status for c in api.calls_to("sendMessage")]
    assert statuses == [429, 500, 500, 200, 200, 403, 200]


async def test_blocked_user_gets_403_everywhere(api, client):
    user = api.user(21)
    user.block()
    status, _ = await call(client, "sendMessage", chat_id=21, text="hi")
    assert status == 403
    user.unblock()
    status, _ = await call(client, "sendMessage", chat_id=21, text="hi")
    assert status == 200


async def test_edit_message_text_and_not_modified(api, client):
    _, body = await call(
        client,
        "sendMessage",
        chat_id=4,
        text="<b>Q</b>",
        parse_mode="HTML",
        reply_markup=markup([("A", "t|a")]),
    )
    message_id = body["result"]["message_id"]
    status, body = await call(
        client, "editMessageText", chat_id=4, message_id=message_id, text="<b>Q</b>\n\n✓ A", parse_mode="HTML"
    )
    assert status == 200 and "reply_markup" not in body["result"]
    status, body = await call(
        client, "editMessageText", chat_id=4, message_id=message_id, text="<b>Q</b>\n\n✓ A", parse_mode="HTML"
    )
    assert status == 400 and "message is not modified" in body["description"]
    status, _ = await call(client, "editMessageText", chat_id=4, message_id=999, text="x")
    assert status == 400


async def test_set_my_commands_validates(client):
    assert (await call(client, "setMyCommands", commands=[{"command": "start", "description": "Begin"}]))[
        0
    ] == 200
    assert (await call(client, "setMyCommands", commands=[{"command": "Bad-Name", "description": "x"}]))[
        0
    ] == 400
    assert (await call(client, "setMyCommands", commands=[{"command": "help", "description": ""}]))[0] == 400


async def test_press_builds_a_real_callback_query(api, client):
    await call(
        client, "sendMessage", chat_id=30, text="Q?", reply_markup=markup([("Yes", "t1|y"), ("No", "t1|n")])
    )
    user = api.user(30)
    update_id = user.press("No")
    _, body = await call(client, "getUpdates")
    [update] = body["result"]
    assert update["update_id"] == update_id
    query = update["callback_query"]
    assert query["data"] == "t1|n" and query["message"]["text"] == "Q?" and query["from"]["id"] == 30


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_escaped_text_parses_back_to_itself(text):
    plain, entities = parse_html(html.escape(text, quote=False))
    assert plain == text and entities == []


def test_parse_html_rejects_what_telegram_rejects():
    for bad in ["<b>", "</b>", "<span>x</span>", "<script>x</script>", "<b>x</i>", "x <"]:
        with pytest.raises(ApiError) as info:
            parse_html(bad)
        assert info.value.code == 400
    assert parse_html('<span class="tg-spoiler">s</span>')[1][0]["type"] == "spoiler"
    assert parse_html('<a href="https://x.org">l</a>')[1][0]["url"] == "https://x.org"
