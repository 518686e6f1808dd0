"""Faults around the real Application, engine and SQLite store: 429 storms, 5xx bursts, timeouts,
duplicate delivery (polling and webhook), and hypothesis-generated updates of every kind.

Conversations are walked by seeded fake users (tests/fakebot/walker.py). Under faults every user's
chat must be exactly what a fault-free run shows (the same updates replayed once each through the
real Service, offline): every reply arrives, in order, once; and every answer is stored.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import random
import threading
import time
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.runtime import running
from bot.webhook import SECRET_HEADER, build_webhook_app
from fakebot import Call, FakeBotAPI
from fakebot.harness import outbox_drained, polling_bot, settings_for
from fakebot.walker import Walk, expect_answers, record_updates, replay, sends, signature, walk_all
from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.service import Service
from neuroseq_core.store.open import open_store

pytestmark = pytest.mark.fault

SEED = 8
USERS = list(range(700, 720))  # 20 users talk at once


@pytest.fixture
async def store(tmp_path):
    s = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}")
    yield s
    await s.close()


@pytest.fixture
def service(store, content: Content):
    return Service(store, ContentHolder(content))


async def check_outcome(
    api: FakeBotAPI,
    store,
    walks: list[Walk],
    expected: dict[int, list],
    ignore: set[int] | None = None,
) -> None:
    """Nothing lost, nothing doubled, nothing out of order; every answer stored.

    `expected` is each chat as a fault-free run shows it (fakebot.walker.replay); `ignore` holds
    ids of calls whose answer the bot never heard (timed out), which may legitimately be extra.
    """
    for walk in walks:
        uid = walk.user.id
        got = [signature(c) for c in sends(api, uid) if id(c) not in (ignore or set())]
        assert len(got) == len(expected[uid]), (
            f"user {uid}: {len(got)} messages, expected {len(expected[uid])}"
        )
        assert got == expected[uid], f"user {uid}: the chat differs from a fault-free run"
        async with store.transaction(str(uid)) as tx:
            session = await tx.load_session()
        assert session is not None and session.completed_at is not None
        expect_answers(walk, session.answers)


def statuses(api: FakeBotAPI, method: str) -> list[int]:
    return [c.status for c in api.calls_to(method)]


# ---- 429 storms ------------------------------------------------------------------------------


async def test_429_storm_across_many_chats(api, store, service, content):
    pushed = record_updates(api)
    async with polling_bot(api, store, service):
        # A storm: the next 40 sendMessage calls, whatever the chat, are told to wait; then each
        # of ten chats gets two more 429s of its own. Retries come from PTB's rate limiter first,
        # then from our sender, then from the outbox flusher.
        api.fail_next("sendMessage", times=40, retry_after=1)
        for uid in USERS[:10]:
            api.fail_next("sendMessage", times=2, retry_after=1, chat_id=uid)
        walks = await walk_all(api, USERS, SEED, timeout=60)
        assert await outbox_drained(store, timeout=20)
        await asyncio.sleep(0.3)
    assert statuses(api, "sendMessage").count(429) == 60  # every injected 429 was met
    await check_outcome(api, store, walks, await replay(content, pushed))


# ---- 5xx bursts, timeouts --------------------------------------------------------------------


async def test_5xx_bursts_on_send_and_get_updates(api, store, service, content):
    users = USERS[:12]
    pushed = record_updates(api)
    async with polling_bot(api, store, service):
        api.fail_next("sendMessage", times=30, status=500)
        api.fail_next("sendPhoto", times=5, status=503)
        api.fail_next("sendMessage", times=20, status=502)

        async def more_bursts() -> None:
            # Later bursts land in the middle of conversations. A getUpdates burst waits until
            # the last one is over and polling works again: back to back they would only grow
            # the poller's backoff (by design, up to 30 s) and stall this test.
            polls = api.fail_next("getUpdates", times=4, status=502)
            for status in (500, 502, 504):
                await asyncio.sleep(0.7)
                api.fail_next("sendMessage", times=25, status=status)
                await api.wait_until(lambda p=polls: p.times == 0 and api.calls_to("getUpdates")[-1].ok, 30)
                polls = api.fail_next("getUpdates", times=3, status=status)

        bursts = asyncio.create_task(more_bursts())
        walks = await walk_all(api, users, SEED, timeout=60)
        await bursts
        assert await outbox_drained(store, timeout=20)
        await asyncio.sleep(0.3)
    assert sum(s >= 500 for s in statuses(api, "sendMessage")) >= 100
    assert sum(s >= 500 for s in statuses(api, "getUpdates")) >= 10
    await check_outcome(api, store, walks, await replay(content, pushed))


class TimedFakeBotAPI(FakeBotAPI):
    """The fake server, also noting how long each call took to answer (a delayed one timed out)."""

    def __init__(self) -> None:
        super().__init__()
        self.took: dict[int, float] = {}

    async def _record(self, call: Call) -> None:
        self.took[id(call)] = time.monotonic() - call.at
        await super()._record(call)


async def test_timeouts_on_send_and_get_updates_lose_nothing(store, service, content):
    users = USERS[:6]
    async with TimedFakeBotAPI() as api, polling_bot(api, store, service, http_timeout=0.4):
        pushed = record_updates(api)
        # Answers that come after the client gave up: getUpdates whose updates the bot never saw,
        # and sendMessage calls the server did take (so the user may see such a message twice).
        api.fail_next("getUpdates", times=3, delay=2.0)  # longer than the long poll plus the timeout
        api.fail_next("sendMessage", times=6, delay=1.0)
        walks = await walk_all(api, users, SEED, timeout=60)
        assert await outbox_drained(store, timeout=20)
        await asyncio.sleep(1.2)
    slow = {id(c) for c in api.calls if api.took.get(id(c), 0) >= 0.9}
    assert len(slow) >= 9
    # Without the copies the client never heard about, each chat is exactly the fault-free one.
    await check_outcome(api, store, walks, await replay(content, pushed), ignore=slow)


# ---- duplicate delivery ----------------------------------------------------------------------


class RedeliveringFakeBotAPI(FakeBotAPI):
    """Also hands out updates the bot already confirmed, as Telegram may after a lost response."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.delivered: list[dict[str, Any]] = []
        self.late: list[int] = []  # ids handed out again after the bot had confirmed them

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        result = list(await super()._m_getupdates(params))
        offset = params.get("offset") or 0
        confirmed = [u for u in self.delivered if u["update_id"] < offset]
        self.delivered += [copy.deepcopy(u) for u in result]
        if result and confirmed:
            again = self.rng.sample(confirmed, min(3, len(confirmed)))
            self.late += [u["update_id"] for u in again]
            # In id order, as Telegram sends them: the old ones come first.
            result = sorted([copy.deepcopy(u) for u in again] + result, key=lambda u: u["update_id"])
        return result


async def test_duplicate_delivery_by_polling_and_after_restart(store, service, content):
    users = USERS[:5]
    async with RedeliveringFakeBotAPI(SEED) as api:
        every = record_updates(api)
        push = api.push

        def push_twice(kind: str, payload: dict[str, Any]) -> int:
            update_id = push(kind, payload)
            api._updates.append(copy.deepcopy(every[-1]))  # the same update twice in one batch
            return update_id

        api.push = push_twice  # type: ignore[method-assign]
        async with polling_bot(api, store, service):
            walks = await walk_all(api, users, SEED)
            assert await outbox_drained(store)
            await asyncio.sleep(0.3)
        delivered = [u["update_id"] for c in api.calls_to("getUpdates") if c.ok for u in c.result]
        assert len(delivered) >= len(set(delivered)) + len(every), "the duplicates were not delivered"
        assert len(api.late) >= 20, "few redeliveries after confirmation happened"
        expected = await replay(content, every)
        await check_outcome(api, store, walks, expected)

        # A new process (no memory of finished updates) gets every update again: the store dedupes.
        sends_before = len(sends_to_users(api, users))
        api._updates.extend(copy.deepcopy(every))
        async with polling_bot(api, store, service):
            await api.wait_until(lambda: api.pending_updates == 0, timeout=20)
            await asyncio.sleep(0.3)
        assert len(sends_to_users(api, users)) == sends_before
        await check_outcome(api, store, walks, expected)


def sends_to_users(api: FakeBotAPI, users: list[int]) -> list[Call]:
    return [c for uid in users for c in sends(api, uid)]


async def test_duplicate_delivery_by_webhook(api, store, service, content):
    users = USERS[:4]
    secret = "fault-Suite_1"
    settings_ = settings_for(api, webhook_url="https://bot.example.org/hook", webhook_secret=secret)
    posts: list[asyncio.Future[httpx.Response]] = []
    every: list[dict[str, Any]] = []
    async with running(settings_, store=store, service=service, http_timeout=5.0, backoff=0.05) as rt:
        app = build_webhook_app(settings_, rt.application)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:

            def post_thrice(kind: str, payload: dict[str, Any]) -> int:
                # Telegram retrying a POST whose 200 it did not see: three copies at once
                # (and one more after all were answered, below).
                update = api.update_json(kind, payload)
                every.append(copy.deepcopy(update))
                for _ in range(3):
                    body = copy.deepcopy(update)
                    posts.append(
                        asyncio.ensure_future(
                            client.post("/hook", json=body, headers={SECRET_HEADER: secret})
                        )
                    )
                return int(update["update_id"])

            api.push = post_thrice  # type: ignore[method-assign]
            walks = await walk_all(api, users, SEED)
            responses = await asyncio.gather(*posts)
            assert await outbox_drained(store)
            # Later, after all were answered: each update once more.
            sends_before = len(api.calls_to("sendMessage")) + len(api.calls_to("sendPhoto"))
            for update in every:
                again = await client.post("/hook", json=update, headers={SECRET_HEADER: secret})
                assert again.status_code == 200
            assert len(api.calls_to("sendMessage")) + len(api.calls_to("sendPhoto")) == sends_before
    assert [r.status_code for r in responses] == [200] * len(responses)
    await check_outcome(api, store, walks, await replay(content, every))


# ---- hypothesis: updates of every kind -------------------------------------------------------


class LoopThread:
    """An event loop in a thread, so synchronous hypothesis examples can drive the async bot."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:  # noqa: ASYNC109
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class ErrorLog(logging.Handler):
    """Keeps ERROR and worse records."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class World:
    """The fake server, the real runtime on a SQLite store, and the loop they run in."""

    def __init__(self, content: Content, db_url: str) -> None:
        self.thread = LoopThread()
        self.log = ErrorLog()
        logging.getLogger().addHandler(self.log)
        self.api: FakeBotAPI = self.thread.run(self._start_api())
        self.store = self.thread.run(open_store(db_url))
        service = Service(self.store, ContentHolder(content))
        self._ctx = running(
            settings_for(self.api),
            store=self.store,
            service=service,
            http_timeout=5.0,
            backoff=0.01,
            retries=1,
        )
        self.rt = self.thread.run(self._ctx.__aenter__())

    @staticmethod
    async def _start_api() -> FakeBotAPI:
        api = FakeBotAPI()
        await api.start()
        return api

    def close(self) -> None:
        logging.getLogger().removeHandler(self.log)
        self.thread.run(self._ctx.__aexit__(None, None, None))
        self.thread.run(self.store.close())
        self.thread.run(self.api.stop())
        self.thread.close()

    def process(self, data: dict[str, Any]) -> bool:
        update = Update.de_json(copy.deepcopy(data), self.rt.application.bot)
        return bool(self.thread.run(self.rt.adapter.process(self.rt.application, update)))

    def rows(self) -> dict[str, int]:
        async def count() -> dict[str, int]:
            async with self.store.engine.connect() as conn:  # type: ignore[attr-defined]
                return {
                    t: (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()
                    for t in ("sessions", "processed_updates", "outbox", "profiles", "users")
                }

        return self.thread.run(count())


@pytest.fixture(scope="module")
def world(content, tmp_path_factory):
    w = World(content, f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hyp') / 'bot.db'}")
    yield w
    w.close()


HUMANS = [901, 902, 903]
UPDATE_IDS = itertools.count(10**6)
unicode_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
long_text = st.integers(4000, 5000).map(lambda n: "ä" * n)
# Telegram never delivers a message with blank text, so every text has something in it.
texts = st.one_of(
    unicode_text, long_text, st.sampled_from(["1", "0", "99", "skip", "/", "//", " x "])
).filter(lambda t: t.strip() != "")
commands = st.builds(
    lambda name, args, at: f"/{name}{'@neuroseq_test_bot' if at else ''} {args}".rstrip(),
    st.sampled_from(
        [
            "start",
            "help",
            "back",
            "restart",
            "cancel",
            "language",
            "privacy",
            "delete",
            "helplines",
            "stop",
            "nope",
            "START",
            "reload",
            "stats",
            "now",
        ]
    ),
    st.one_of(
        st.just(""),
        unicode_text,
        st.sampled_from(["xx", "de", "es", "en", "confirm", "99999999999999999999"]),
    ),
    st.booleans(),
)
MEDIA = {
    "sticker": {
        "file_id": "s",
        "file_unique_id": "su",
        "type": "regular",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    },
    "photo": [{"file_id": "p", "file_unique_id": "pu", "width": 9, "height": 9}],
    "voice": {"file_id": "v", "file_unique_id": "vu", "duration": 1},
    "document": {"file_id": "d", "file_unique_id": "du"},
    "location": {"latitude": 1.0, "longitude": 2.0},
    "contact": {"phone_number": "+100", "first_name": "C"},
    "dice": {"emoji": "🎲", "value": 3},
    "video_note": {"file_id": "n", "file_unique_id": "nu", "length": 1, "duration": 1},
    "animation": {"file_id": "a", "file_unique_id": "au", "width": 1, "height": 1, "duration": 1},
    "video": {"file_id": "w", "file_unique_id": "wu", "width": 1, "height": 1, "duration": 1},
    "audio": {"file_id": "au", "file_unique_id": "auu", "duration": 1},
}


def chat_json(kind: str, uid: int) -> dict[str, Any]:
    if kind == "private":
        return {"id": uid, "type": "private", "first_name": "P"}
    if kind == "channel":
        return {"id": -1001234, "type": "channel", "title": "Chan"}
    return {"id": -77 if kind == "group" else -100777, "type": kind, "title": "Staff"}


@st.composite
def updates(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """One update of any kind the bot receives (and a few it should never get)."""
    uid = draw(st.sampled_from(HUMANS))
    is_bot = draw(st.integers(0, 9)) == 0
    user = {"id": uid, "is_bot": is_bot, "first_name": draw(st.sampled_from(["A", "Ünï", "<b>x</b>"]))}
    language = draw(st.sampled_from([None, "en", "es", "de", "zz", "pt-br"]))
    if language:
        user["language_code"] = language
    chat_kind = draw(st.sampled_from(["private"] * 6 + ["group", "supergroup", "channel"]))
    chat = chat_json(chat_kind, uid)
    kind = draw(st.sampled_from(["text", "command", "media", "edited", "callback", "member", "caption"]))
    message: dict[str, Any] = {"message_id": draw(st.integers(1, 10**6)), "date": 0, "chat": chat}
    if draw(st.integers(0, 9)) > 0 or chat_kind == "channel":
        message["from"] = user
    if chat_kind == "channel":
        message.pop("from", None)
    if kind == "text":
        message["text"] = draw(texts)
    elif kind == "command":
        text = draw(commands)
        message["text"] = text
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
    elif kind == "caption":
        message["photo"] = MEDIA["photo"]
        message["caption"] = draw(texts)
    elif kind == "media":
        what = draw(st.sampled_from(sorted(MEDIA)))
        message[what] = MEDIA[what]
    update_id = next(UPDATE_IDS)  # never drawn: a repeated id would be a (deduplicated) redelivery
    if kind == "edited":
        message["text"] = draw(texts)
        message["edit_date"] = 1
        return {"update_id": update_id, "edited_message": message}
    if kind == "callback":
        on_screen = [m for m in world.api.messages if m.chat_id == uid and m.keyboard][-3:]
        pressable = [str(b["callback_data"]) for m in on_screen for row in m.keyboard for b in row]
        forged = st.one_of(
            st.text(max_size=64).filter(lambda s: 1 <= len(s.encode()) <= 64),
            st.builds(
                lambda t, o: f"{t}|{o}"[:64],
                st.text(alphabet="0123456789abcdef", max_size=8),
                st.sampled_from(["agree", "skip", "more", "restart", "often", "x", ""]),
            ),
        )
        # Always the same draws, whatever is on screen: hypothesis replays need a stable shape.
        press_real, index, fake = draw(st.booleans()), draw(st.integers(0, 10**6)), draw(forged)
        data = pressable[index % len(pressable)] if press_real and pressable else fake
        source = {"message_id": 1, "date": 0, "chat": chat, "text": "Q"}
        if draw(st.integers(0, 9)) == 0:
            source = {"message_id": 1, "date": 0, "chat": chat}  # an inaccessible (old) message
        query: dict[str, Any] = {
            "id": str(update_id),
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "message": source,
        }
        if draw(st.integers(0, 9)) == 0:
            query.pop("message")
            query["inline_message_id"] = "im"
        return {"update_id": update_id, "callback_query": query}
    if kind == "member":
        old, new = draw(
            st.sampled_from(
                [
                    ("left", "member"),
                    ("member", "kicked"),
                    ("kicked", "member"),
                    ("member", "administrator"),
                    ("member", "left"),
                ]
            )
        )

        def member(status: str) -> dict[str, Any]:
            bot_user = {"id": 123456789, "is_bot": True, "first_name": "B"}
            data = {"user": bot_user, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            if status == "administrator":
                data.update(
                    {
                        f: True
                        for f in (
                            "can_be_edited",
                            "is_anonymous",
                            "can_manage_chat",
                            "can_delete_messages",
                            "can_manage_video_chats",
                            "can_restrict_members",
                            "can_promote_members",
                            "can_change_info",
                            "can_invite_users",
                            "can_post_stories",
                            "can_edit_stories",
                            "can_delete_stories",
                        )
                    }
                )
            return data

        return {
            "update_id": update_id,
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": 0,
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        }
    if chat_kind == "channel" and draw(st.booleans()):
        return {"update_id": update_id, "channel_post": message}
    return {"update_id": update_id, "message": message}


def facts(data: dict[str, Any]) -> tuple[int | None, str, bool]:
    """(chat id, chat type, from a human) of an update, read from the raw JSON."""
    body = next(v for k, v in data.items() if k != "update_id")
    chat = body.get("chat") or (body.get("message") or {}).get("chat") or {}
    sender = body.get("from")
    human = sender is not None and not sender.get("is_bot")
    return chat.get("id"), chat.get("type", "private"), human


@settings(
    database=None,  # examples depend on the conversation so far: replaying old ones means nothing
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_update_is_handled_once_and_never_crashes(world, data):
    update = data.draw(updates(world))
    chat_id, chat_type, human = facts(update)
    before_rows = world.rows()
    before_calls = len(world.api.calls)
    before_errors = len(world.log.records)

    assert world.process(update) is True
    assert world.rt.adapter.failed == set()
    assert world.log.records[before_errors:] == [], [
        r.getMessage() for r in world.log.records[before_errors:]
    ]
    assert world.thread.errors == []
    new_calls = world.api.calls[before_calls:]
    assert all(c.ok or c.method.lower().startswith("edit") for c in new_calls), [
        (c.method, c.status) for c in new_calls
    ]
    sent = [c for c in new_calls if c.method.lower() in ("sendmessage", "sendphoto")]
    answered = [c for c in new_calls if c.method.lower() == "answercallbackquery"]
    if "callback_query" in update:
        assert len(answered) == 1  # the spinner always stops, once
    if chat_type != "private":
        # Nothing stored from groups and channels; at most the one "private chats only" notice.
        assert world.rows() == before_rows
        assert all(str(c.params.get("chat_id")) == str(chat_id) for c in sent)
        assert len(sent) <= 1
        return
    if not human:
        assert sent == []
        assert world.rows()["sessions"] == before_rows["sessions"]
        return
    is_message = any(k in update for k in ("message", "edited_message"))
    if is_message:
        assert sent, "a private message from a person got no answer"
        assert all(str(c.params.get("chat_id")) == str(chat_id) for c in sent)
    # The same update again (a redelivery): acknowledged, never answered twice.
    before_again = len(world.api.calls)
    assert world.process(update) is True
    again = [c for c in world.api.calls[before_again:] if c.method.lower() in ("sendmessage", "sendphoto")]
    assert again == []
    assert world.rt.adapter.failed == set()
