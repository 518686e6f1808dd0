"""The tests' fake Bot API, made fit for thousands of users and timed (for bench_e2e only).

tests/fakebot/server.py keeps every call and every message in lists and wakes every waiter on every
call: right for tests, quadratic for 10,000 users. This subclass keeps the HTTP shape and all its
checks (HTML, lengths, keyboards), but indexes messages per chat, keeps only each chat's latest
messages, drops photo bytes, counts calls instead of keeping them, wakes only the user a message
is for, and timestamps what the benchmark measures:

- delivery: the first time getUpdates hands an update to the bot;
- reply call: the first sendMessage/sendPhoto request for that chat after the delivery (taken when
  the request reaches the endpoint, before its body is parsed).
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import time
from collections import Counter, deque
from typing import Any

from _common import use_test_helpers

use_test_helpers()

import uvicorn  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402

from fakebot.server import BotMessage, FakeBotAPI, _chat_json, _Server, free_socket  # noqa: E402

KEEP_PER_CHAT = 6  # the question being answered, its reply, and a little slack
SAMPLES = 400  # of each method's texts and keyboards, for the floor to send the same (bench_e2e)
_arrived: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)


class _MethodCounter:
    """Stands in for FakeBotAPI.started (a list of method names): counts them instead."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def append(self, method: str) -> None:
        """Count one request of `method`."""
        self.counts[method] += 1

    def __contains__(self, method: object) -> bool:
        return bool(self.counts.get(str(method)))


class TimedFakeBotAPI(FakeBotAPI):
    """FakeBotAPI with per-chat indexes and delivery→reply timestamps."""

    def __init__(self) -> None:
        super().__init__()
        self.started = _MethodCounter()  # type: ignore[assignment]
        self.errors: Counter[str] = Counter()  # "method status" of refused calls (getUpdates aside)
        self._chats: dict[int, deque[BotMessage]] = {}
        self._by_id: dict[tuple[int, int], BotMessage] = {}
        self._inbox: dict[int, asyncio.Queue[BotMessage]] = {}
        self._pushed: dict[int, tuple[float, int]] = {}  # update_id -> (pushed at, chat id)
        self._pending: dict[int, tuple[float, float]] = {}  # chat -> (pushed at, delivered at)
        self.delivery_to_reply: list[float] = []
        self.push_to_reply: list[float] = []
        self.delivered = 0
        # What the bot sent: the first SAMPLES of each of these calls, as sent (text or caption,
        # parse mode, keyboard), so the floor can send the same bytes (bench_e2e --floor bare).
        self.samples: dict[str, list[dict[str, Any]]] = {
            "sendMessage": [],
            "editMessageText": [],
            "sendPhoto": [],
        }

    def _sample(self, method: str, params: dict[str, Any]) -> None:
        kept = self.samples[method]
        if len(kept) < SAMPLES:
            text = params.get("caption" if method == "sendPhoto" else "text")
            kept.append({
                "text": str(text or ""),
                "parse_mode": params.get("parse_mode"),
                "reply_markup": self._markup(params.get("reply_markup")) or None,
            })  # fmt: skip

    async def start(self) -> None:
        """Serve as FakeBotAPI.start does, but with TCP_NODELAY on the listening socket.

        Without it, every response after the first on a keep-alive connection waits ~40 ms: uvicorn
        writes the headers and the body separately, and Nagle holds the body back until the client's
        delayed ACK of the headers. Linux copies the option to every accepted connection.
        """
        sock = free_socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    # -- what the bot calls ------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        _arrived.set(time.perf_counter())
        return await super()._endpoint(request)

    async def _record(self, call: Any) -> None:
        if not call.ok and call.method != "getUpdates":
            self.errors[f"{call.method} {call.status}"] += 1
        async with self._changed:  # wakes the harness' waiters (only the start-up check uses them)
            self._changed.notify_all()

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        updates = await super()._m_getupdates(params)
        now = time.perf_counter()
        for update in updates:
            first = self._pushed.pop(update["update_id"], None)
            if first is not None:  # the first delivery; a redelivery keeps the first one's time
                pushed_at, chat = first
                self._pending[chat] = (pushed_at, now)
                self.delivered += 1
        return updates

    def _reply_call(self, params: dict[str, Any]) -> None:
        pending = self._pending.pop(params.get("chat_id"), None)  # type: ignore[arg-type]
        if pending is not None:
            arrived = _arrived.get() or time.perf_counter()
            self.push_to_reply.append(arrived - pending[0])
            self.delivery_to_reply.append(arrived - pending[1])

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        self._reply_call(params)
        self._sample("sendMessage", params)
        return await super()._m_sendmessage(params)

    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        self._reply_call(params)
        self._sample("sendPhoto", params)
        return await super()._m_sendphoto(params)

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        # An edit with new buttons is the next question shown in place: a reply, read as new.
        asks = bool(params.get("reply_markup"))
        self._sample("editMessageText", params)
        if asks:
            self._reply_call(params)
        result = await super()._m_editmessagetext(params)
        if asks:
            self.inbox(self._chat(params)).put_nowait(self._find(params))
        return result

    def _supersede(self, message: BotMessage) -> BotMessage:
        """Nothing kept of what the message said before: the bench reads only what is new."""
        return message

    # -- storage: per chat, bounded ----------------------------------------------------------

    def _store_message(
        self, chat_id: int, fields: dict[str, Any], source: str, photo: bytes | None
    ) -> BotMessage:
        message_id = self._next_message_id(chat_id)
        raw: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": _chat_json(chat_id),
            "from": self._bot_user(),
            **fields,
        }
        # A photo's bytes are checked (PNG/JPEG) by the caller; keeping 10,000 of them is not needed.
        message = BotMessage(chat_id, message_id, raw, source, b"" if photo is not None else None)
        chat = self._chats.setdefault(chat_id, deque())
        chat.append(message)
        self._by_id[(chat_id, message_id)] = message
        while len(chat) > KEEP_PER_CHAT:
            old = chat.popleft()
            self._by_id.pop((chat_id, old.message_id), None)
        self.inbox(chat_id).put_nowait(message)
        return message

    def _find(self, params: dict[str, Any]) -> BotMessage:
        chat_id = self._chat(params)
        message = self._by_id.get((chat_id, params.get("message_id")))  # type: ignore[arg-type]
        if message is None:
            return super()._find(params)  # raises "message to edit not found"
        return message

    def chat_messages(self, chat_id: int) -> list[BotMessage]:
        """The chat's latest messages (at most KEEP_PER_CHAT)."""
        return list(self._chats.get(chat_id, ()))

    def inbox(self, chat_id: int) -> asyncio.Queue[BotMessage]:
        """New messages the bot sent to this chat, and edits that ask something new, in order."""
        queue = self._inbox.get(chat_id)
        if queue is None:
            queue = self._inbox[chat_id] = asyncio.Queue()
        return queue

    # -- the user side -----------------------------------------------------------------------

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update, remembering when and for which chat."""
        update_id = super().push(kind, payload)
        chat = (payload.get("chat") or (payload.get("message") or {}).get("chat") or {}).get("id")
        self._pushed[update_id] = (time.perf_counter(), chat)
        return update_id

    def method_counts(self) -> dict[str, int]:
        """Requests per method."""
        return dict(self.started.counts)  # type: ignore[attr-defined]
