"""Webhook mode: the secret header, commit-before-200, 500 so Telegram retries, and start-up checks."""

from __future__ import annotations

import httpx
import pytest

from bot.app import ALLOWED_UPDATES
from bot.runtime import running
from bot.webhook import SECRET_HEADER, build_webhook_app, run_webhook, webhook_config
from fakebot.harness import settings_for, webhook_server
from neuroseq_core.service.settings import ConfigurationError

SECRET = "s3cret-Token_1"
URL = "https://bot.example.org/telegram/hook"


@pytest.fixture
async def client(api, store, service):
    settings = settings_for(api, webhook_url=URL, webhook_secret=SECRET)
    async with running(settings, store=store, service=service, http_timeout=5.0, backoff=0.05) as rt:
        app = build_webhook_app(settings, rt.application)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as c:
            yield c


def text_update(api, user_id=500, text="hello"):
    return api.update_json("message", api.user(user_id).message_json(text=text))


async def seen(store, user_id, update_id):
    async with store.transaction(user_id) as tx:
        return await tx.seen(update_id)


@pytest.mark.parametrize(
    "headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: ""}, {SECRET_HEADER: SECRET + "x"}]
)
async def test_without_the_secret_nothing_is_processed(api, client, store, service, headers):
    update = text_update(api)
    response = await client.post("/telegram/hook", json=update, headers=headers)
    assert response.status_code == 403
    assert service.events == []
    assert not await seen(store, "500", update["update_id"])
    assert api.calls_to("sendMessage") == []


async def test_with_the_secret_it_answers_200_after_commit(api, client, store, service):
    update = text_update(api)
    response = await client.post("/telegram/hook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    # By the time 200 is sent, the update is committed and the reply delivered.
    assert await seen(store, "500", update["update_id"])
    assert [m.text for m in api.chat_messages(500)] == ["You said: hello"]
    assert await store.pending_outbox() == []
    # A redelivery (Telegram did not get our 200) is acknowledged and not answered twice.
    again = await client.post("/telegram/hook", json=update, headers={SECRET_HEADER: SECRET})
    assert again.status_code == 200
    assert len(api.chat_messages(500)) == 1 and len(service.events) == 1


async def test_failure_answers_500_and_the_repost_is_handled(api, client, store, service):
    update = text_update(api, text="retry me")
    service.fail_next = 1
    response = await client.post("/telegram/hook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 500
    assert not await seen(store, "500", update["update_id"])
    assert [m.text for m in api.chat_messages(500)] == ["notice error.apology"]
    response = await client.post("/telegram/hook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    assert await seen(store, "500", update["update_id"])
    assert [m.text for m in api.chat_messages(500)] == ["notice error.apology", "You said: retry me"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
    ],
)
async def test_malformed_bodies_are_400(client, service, body):
    response = await client.post(
        "/telegram/hook", content=body, headers={SECRET_HEADER: SECRET, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert service.events == []


async def test_an_update_that_makes_no_sense_is_answered_and_dropped(client, service, caplog):
    # It carries an update id, so it came from Telegram: 200, or it would be sent again for ever.
    body = b'{"update_id": 7, "message": {"nope": 1}}'
    headers = {SECRET_HEADER: SECRET, "content-type": "application/json"}
    response = await client.post("/telegram/hook", content=body, headers=headers)
    assert response.status_code == 200
    assert service.events == []
    assert [r.update_id for r in caplog.records if r.getMessage() == "unreadable update dropped"] == [7]


async def test_other_paths_and_health(client):
    assert (await client.get("/healthz")).json() == {"ok": True}
    assert (await client.post("/elsewhere", json={}, headers={SECRET_HEADER: SECRET})).status_code == 404
    assert (await client.get("/telegram/hook")).status_code == 405


async def test_button_press_through_the_webhook(api, client, service):
    user = api.user(501)
    start = api.update_json(
        "message",
        user.message_json(text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    )
    assert (
        await client.post("/telegram/hook", json=start, headers={SECRET_HEADER: SECRET})
    ).status_code == 200
    question = user.last_keyboard()
    press = {
        "update_id": start["update_id"] + 1,
        "callback_query": {
            "id": "cb1",
            "from": user.json(),
            "message": question.raw,
            "chat_instance": "ci",
            "data": question.keyboard[0][1]["callback_data"],
        },
    }
    assert (
        await client.post("/telegram/hook", json=press, headers={SECRET_HEADER: SECRET})
    ).status_code == 200
    assert api.answered_callbacks == ["cb1"]
    assert question.text.endswith("✓ Mixed") and question.keyboard == []


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"webhook_url": URL}, "NEUROSEQ_WEBHOOK_SECRET"),
        ({"webhook_url": URL, "webhook_secret": "has space"}, "NEUROSEQ_WEBHOOK_SECRET"),
        ({"webhook_secret": SECRET}, "NEUROSEQ_WEBHOOK_URL"),
        ({"webhook_secret": SECRET, "webhook_url": "bot.example.org/hook"}, "NEUROSEQ_WEBHOOK_URL"),
    ],
)
def test_refuses_to_start_without_secret_or_url(api, extra, needle):
    settings = settings_for(api, **extra)
    with pytest.raises(ConfigurationError, match=needle):
        webhook_config(settings)
    with pytest.raises(ConfigurationError, match=needle):
        run_webhook(settings)
    assert api.calls == []


async def test_serve_webhook_sets_the_webhook_and_serves(api, store, service):
    async with webhook_server(api, store, service, SECRET) as port:
        [call] = api.calls_to("setWebhook")
        assert call.params["url"] == f"http://127.0.0.1:{port}/hook"
        assert call.params["secret_token"] == SECRET
        assert call.params["allowed_updates"] == ALLOWED_UPDATES
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            health = await c.get("/healthz")
            assert health.status_code == 200
            update = text_update(api, user_id=502, text="over http")
            assert (await c.post("/hook", json=update)).status_code == 403
            assert (await c.post("/hook", json=update, headers={SECRET_HEADER: SECRET})).status_code == 200
        assert [m.text for m in api.chat_messages(502)] == ["You said: over http"]
