"""A fake Telegram Bot API on 127.0.0.1: the HTTP shape, the limits, the errors, and test users.

It answers POST/GET /bot<token>/<method> with form, multipart or JSON bodies, as Telegram does,
with `{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`.
It enforces what the real API enforces and the bot could get wrong (text 1–4096 characters after
entity parsing, captions <= 1024, callback_data 1–64 bytes, HTML parse mode validity, keyboard
shape), records every call, and injects faults (429 with retry_after, 5xx, delays, 403).

Runs in the test's own event loop (uvicorn as a task), on a port the OS picks.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import html
import itertools
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_TOKEN = "123456789:AAHfakefakefakefakefakefakefakefake12"
BOT_ID = 123456789

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_ROW = 8
MAX_BUTTONS = 100

_INT_KEYS = {"message_id", "offset", "limit", "timeout", "max_connections", "from_chat_id", "user_id"}
_JSON_KEYS = {
    "reply_markup",
    "allowed_updates",
    "commands",
    "entities",
    "caption_entities",
    "scope",
    "link_preview_options",
    "reply_parameters",
}
_BOOL_KEYS = {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}

# Telegram's HTML: the tags it accepts and the entity each one makes.
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")
_ATTR_RE = re.compile(r'([a-zA-Z-]+)\s*=\s*"([^"]*)"')


class ApiError(Exception):
    """An error answer: HTTP status, Telegram description, optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """multipart/form-data → (fields, files), with the standard library's MIME parser."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = payload
        else:
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
    return fields, files


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram HTML → (plain text, entities), or ApiError 400 "can't parse entities"."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []
    pos = 0
    length = 0  # UTF-16 units written so far

    def bad(why: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {why}")

    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            end = text.find(">", pos)
            if end < 0:
                raise bad(f"Unclosed start tag at byte offset {len(text[:pos].encode())}")
            body = text[pos + 1 : end].strip()
            offset = len(text[:pos].encode())
            if body.startswith("/"):
                name = body[1:].strip().lower()
                if not stack:
                    raise bad(f"Unexpected end tag at byte offset {offset}")
                open_name, start, attrs = stack.pop()
                if open_name != name:
                    raise bad(
                        f'Unmatched end tag at byte offset {offset}, expected "</{open_name}>", found "</{name}>"'
                    )
                if length > start:
                    entity: dict[str, Any] = {
                        "type": _TAG_ENTITY[open_name],
                        "offset": start,
                        "length": length - start,
                    }
                    if open_name == "a":
                        entity["url"] = attrs.get("href", "")
                    if open_name == "pre" and attrs.get("language"):
                        entity["language"] = attrs["language"]
                    entities.append(entity)
            else:
                name = re.split(r"\s", body, maxsplit=1)[0].lower()
                if name not in _TAG_ENTITY:
                    raise bad(f'Unsupported start tag "{name}" at byte offset {offset}')
                attrs = dict(_ATTR_RE.findall(body))
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise bad(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
                stack.append((name, length, attrs))
            pos = end + 1
            continue
        if ch == "&":
            match = _ENTITY_RE.match(text, pos)
            if match:
                decoded = html.unescape(match.group(0))
                out.append(decoded)
                length += utf16_len(decoded)
                pos = match.end()
                continue
        out.append(ch)
        length += utf16_len(ch)
        pos += 1
    if stack:
        raise bad(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def to_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Rebuild HTML from text and (bold/italic) entities — for reading messages in tests."""
    return text if not entities else _rebuild(text, entities)


def _rebuild(text: str, entities: list[dict[str, Any]]) -> str:
    units = text.encode("utf-16-le")
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    tag_of = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "code": "code",
        "pre": "pre",
    }
    for e in entities:
        tag = tag_of.get(e["type"])
        if tag is None:
            continue
        opens.setdefault(e["offset"], []).append(tag)
        closes.setdefault(e["offset"] + e["length"], []).insert(0, tag)
    pieces: list[str] = []
    n = len(units) // 2
    i = 0
    while i <= n:
        for tag in closes.get(i, []):
            pieces.append(f"</{tag}>")
        for tag in opens.get(i, []):
            pieces.append(f"<{tag}>")
        if i < n:
            unit = units[2 * i : 2 * i + 2]
            code = int.from_bytes(unit, "little")
            if 0xD800 <= code < 0xDC00 and i + 1 < n:
                pieces.append(html.escape(units[2 * i : 2 * i + 4].decode("utf-16-le"), quote=False))
                i += 2
                continue
            pieces.append(html.escape(unit.decode("utf-16-le"), quote=False))
        i += 1
    return "".join(pieces)


@dataclass
class Call:
    """One request the bot made, decoded, and what it got back."""

    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        """True when answered with ok: true."""
        return self.status == 200


@dataclass
class Fault:
    """Fail the next `times` calls of `method` (or "*"), optionally only for one chat."""

    method: str
    times: int = 1
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0  # seconds to wait before answering normally (a client-side timeout)
    chat_id: int | None = None
    description: str | None = None


@dataclass
class BotMessage:
    """A message the bot sent (and its later edits), as the user reads it.

    An edit that gives a message new buttons (the next question shown in place of the one pressed)
    reads as the next message: what the message said stays where it was, `superseded` (a user saw
    it, but can no longer press it), and a new BotMessage with the same id, as it is now, is added
    at the end. Messages are only ever appended.
    """

    chat_id: int
    message_id: int
    raw: dict[str, Any]  # the Message object as the API returned it
    source_html: str = ""  # text or caption exactly as sent (HTML)
    photo: bytes | None = None
    edits: int = 0
    superseded: bool = False

    @property
    def text(self) -> str:
        """Plain text (or caption) as the user sees it."""
        return str(self.raw.get("text") or self.raw.get("caption") or "")

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard rows, [] when there is none."""
        markup = self.raw.get("reply_markup") or {}
        return list(markup.get("inline_keyboard") or [])

    @property
    def labels(self) -> list[str]:
        """Button labels in reading order."""
        return [b["text"] for row in self.keyboard for b in row]

    @property
    def is_photo(self) -> bool:
        """True for a sendPhoto message."""
        return self.photo is not None


class _Server(uvicorn.Server):
    """uvicorn that leaves signal handling to the caller (tests, or our own runners)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_socket() -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1 with a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, Nagle's algorithm and delayed ACKs add ~40 ms to
    # every response after the first on a kept-alive connection (measured in bench/).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class FakeBotAPI:
    """The fake server: state, HTTP app, fault injection and the test-side API."""

    def __init__(self, token: str = DEFAULT_TOKEN, username: str = "neuroseq_test_bot") -> None:
        self.token = token
        self.username = username
        self.calls: list[Call] = []
        self.started: list[str] = []  # method names in the order requests arrived (before answering)
        self.messages: list[BotMessage] = []
        self.faults: list[Fault] = []
        self.blocked: set[int] = set()
        self.commands: list[dict[str, Any]] = []
        self.answered_callbacks: list[str] = []
        self.webhook: dict[str, Any] = {"url": "", "secret_token": None, "allowed_updates": None}
        self.allowed_updates: list[str] | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._closing = False
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.app = Starlette(
            routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])],
        )

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """python-telegram-bot's base_url for this server: http://127.0.0.1:<port>/bot."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port, in this event loop."""
        sock = free_socket()
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving; long polls in flight return at once."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        *,
        status: int = 500,
        retry_after: int | None = None,
        delay: float = 0.0,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> Fault:
        """Make the next `times` calls of `method` fail (429 needs retry_after; delay makes a timeout)."""
        fault = Fault(method.lower(), times, status, retry_after, delay, chat_id, description)
        self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, chat_id: Any) -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0:
                continue
            if fault.method not in ("*", method.lower()):
                continue
            if fault.chat_id is not None and str(fault.chat_id) != str(chat_id):
                continue
            fault.times -= 1
            return fault
        return None

    # ---- HTTP ------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        self.started.append(method)
        await self._notify()
        params: dict[str, Any] = {}
        call = Call(method=method, params=params)
        try:
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params.update(await self._params(request))
            fault = self._take_fault(method, params.get("chat_id"))
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                else:
                    status = 429 if fault.retry_after is not None else fault.status
                    description = fault.description or {
                        429: f"Too Many Requests: retry after {fault.retry_after}",
                        403: "Forbidden: bot was blocked by the user",
                        400: "Bad Request: injected",
                    }.get(status, "Internal Server Error")
                    raise ApiError(
                        status,
                        description,
                        {"retry_after": fault.retry_after} if fault.retry_after is not None else None,
                    )
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            call.result = await handler(params)
            body: dict[str, Any] = {"ok": True, "result": call.result}
        except ApiError as exc:
            call.status = exc.code
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        await self._record(call)
        return JSONResponse(body, status_code=call.status)

    async def _params(self, request: Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query_params)
        ctype = request.headers.get("content-type", "")
        if "application/json" in ctype:
            body = await request.body()
            if body:
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ApiError(400, "Bad Request: parameters must be an object")
                return data
        elif request.method == "POST":
            body = await request.body()
            files: dict[str, bytes] = {}
            if "multipart/form-data" in ctype:
                fields, files = parse_multipart(ctype, body)
                raw.update(fields)
            elif body:
                raw.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            for key, blob in files.items():
                raw.setdefault(key, blob)
            for key, value in list(raw.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    raw[key] = files.get(value.removeprefix("attach://"), value)
        return {k: self._coerce(k, v) for k, v in raw.items()}

    @staticmethod
    def _coerce(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            if key in _JSON_KEYS:
                return json.loads(value)
            if key in _INT_KEYS:
                return int(value)
            if key in _BOOL_KEYS:
                return value.lower() in ("true", "1")
            if key == "chat_id":
                return int(value) if value.lstrip("-").isdigit() else value
        except (ValueError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Bad Request: can't parse {key}") from exc
        return value

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # ---- validation ------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _text(value: Any, parse_mode: Any, limit: int, what: str) -> tuple[str, list[dict[str, Any]]]:
        text = "" if value is None else str(value)
        if parse_mode is not None and str(parse_mode).upper() == "HTML":
            plain, entities = parse_html(text)
        elif parse_mode in (None, ""):
            plain, entities = text, []
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        if what == "text" and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > limit:
            raise ApiError(
                400,
                "Bad Request: message is too long"
                if what == "text"
                else "Bad Request: message caption is too long",
            )
        return plain, entities

    @staticmethod
    def _markup(value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in value:
            return value  # reply keyboards and removals are not used by the bot, but are valid
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays',
            )
        if sum(len(r) for r in rows) > MAX_BUTTONS:
            raise ApiError(400, "Bad Request: reply markup is too long")
        for row in rows:
            if len(row) > MAX_ROW:
                raise ApiError(400, "Bad Request: too many buttons in a row")
            for button in row:
                if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                kinds = [
                    k
                    for k in ("callback_data", "url", "switch_inline_query", "web_app", "pay")
                    if k in button
                ]
                if len(kinds) != 1:
                    raise ApiError(400, 'Bad Request: can\'t find field "callback_data"')
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode())
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return value

    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Neuroseq Test", "username": self.username}

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _find(self, params: dict[str, Any]) -> BotMessage:
        chat_id = self._chat(params)
        message_id = params.get("message_id")
        for message in reversed(self.messages):
            if message.chat_id == chat_id and message.message_id == message_id and not message.superseded:
                return message
        raise ApiError(400, "Bad Request: message to edit not found")

    def _supersede(self, message: BotMessage) -> BotMessage:
        """The message now asks something new: what it said stays in the transcript where it was
        (superseded: no longer pressable), and the message, as it is now, reads as the newest."""
        message.superseded = True
        live = dataclasses.replace(message, raw=copy.deepcopy(message.raw), superseded=False)
        self.messages.append(live)
        return live

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
        message = BotMessage(chat_id=chat_id, message_id=message_id, raw=raw, source_html=source, photo=photo)
        self.messages.append(message)
        return message

    # ---- methods ---------------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook["url"]:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if offset is not None:
            # Confirming: everything below the offset is forgotten, as on the real server.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self._updates if self._allowed(u)][:limit]
            if ready or self._closing:
                return ready
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    def _allowed(self, update: dict[str, Any]) -> bool:
        if not self.allowed_updates:
            return not any(k in update for k in ("chat_member", "message_reaction", "message_reaction_count"))
        return any(k in update for k in self.allowed_updates)

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat(params)
        plain, entities = self._text(params.get("text"), params.get("parse_mode"), MAX_TEXT, "text")
        markup = self._markup(params.get("reply_markup"))
        fields: dict[str, Any] = {"text": plain}
        if entities:
            fields["entities"] = entities
        if markup:
            fields["reply_markup"] = markup
        return self._store_message(chat_id, fields, str(params.get("text")), None).raw

    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat(params)
        photo = params.get("photo")
        if not isinstance(photo, bytes):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not photo.startswith(b"\x89PNG\r\n\x1a\n") and not photo.startswith(b"\xff\xd8"):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        caption = params.get("caption")
        plain, entities = self._text(caption, params.get("parse_mode"), MAX_CAPTION, "caption")
        markup = self._markup(params.get("reply_markup"))
        fields: dict[str, Any] = {
            "photo": [
                {
                    "file_id": f"photo{len(self.messages)}",
                    "file_unique_id": f"u{len(self.messages)}",
                    "width": 720,
                    "height": 600,
                }
            ]
        }
        if plain:
            fields["caption"] = plain
        if entities:
            fields["caption_entities"] = entities
        if markup:
            fields["reply_markup"] = markup
        return self._store_message(chat_id, fields, str(caption or ""), photo).raw

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        message = self._find(params)
        if "text" not in message.raw:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        plain, entities = self._text(params.get("text"), params.get("parse_mode"), MAX_TEXT, "text")
        markup = self._markup(params.get("reply_markup"))
        if (
            plain == message.raw.get("text")
            and entities == message.raw.get("entities", [])
            and markup == message.raw.get("reply_markup")
        ):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            )
        if markup and markup != message.raw.get("reply_markup"):
            message = self._supersede(message)
        message.raw["text"] = plain
        message.raw.pop("entities", None)
        if entities:
            message.raw["entities"] = entities
        message.raw.pop("reply_markup", None)
        if markup:
            message.raw["reply_markup"] = markup
        message.raw["edit_date"] = int(time.time())
        message.source_html = str(params.get("text"))
        message.edits += 1
        return message.raw

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        message = self._find(params)
        markup = self._markup(params.get("reply_markup"))
        if markup == message.raw.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
            )
        message.raw.pop("reply_markup", None)
        if markup:
            message.raw["reply_markup"] = markup
        message.raw["edit_date"] = int(time.time())
        message.edits += 1
        return message.raw

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answered_callbacks.append(str(query_id))
        return True

    async def _m_setmycommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100")
        for command in commands:
            name, description = str(command.get("command", "")), str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": "", "secret_token": None, "allowed_updates": None}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _m_sendchataction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    # ---- the test side: updates, users, waiting --------------------------------------------

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update of this kind ("message", "callback_query", ...); returns its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    def update_json(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An update as Telegram would POST it to a webhook (not queued)."""
        return {"update_id": next(self._update_ids), kind: payload}

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by an offset."""
        return len(self._updates)

    def user(self, user_id: int, language_code: str | None = "en", first_name: str = "Alex") -> FakeUser:
        """A private-chat user who can type, press buttons and wait for the bot."""
        return FakeUser(self, user_id, language_code, first_name)

    def chat_messages(self, chat_id: int) -> list[BotMessage]:
        """Messages the bot sent to a chat, in order."""
        return [m for m in self.messages if m.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method (case-insensitive)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until condition() holds (checked after every call the bot makes)."""

        async def _wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)

        await asyncio.wait_for(_wait(), timeout)

    def new_message_id(self, chat_id: int) -> int:
        """The next message id in a chat (shared by user and bot messages, as on Telegram)."""
        return self._next_message_id(chat_id)


def _chat_json(chat_id: int, first_name: str = "Alex") -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": "Staff room"}
    return {"id": chat_id, "type": "private", "first_name": first_name}


class FakeUser:
    """One person in a private chat with the bot."""

    def __init__(self, api: FakeBotAPI, user_id: int, language_code: str | None, first_name: str) -> None:
        self.api = api
        self.id = user_id
        self.language_code = language_code
        self.first_name = first_name
        self._cursor = 0  # index into this chat's messages: what the test has already read

    def json(self) -> dict[str, Any]:
        """The User object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def message_json(self, chat_id: int | None = None, **fields: Any) -> dict[str, Any]:
        """A Message from this user (in their private chat unless chat_id says otherwise)."""
        chat = chat_id if chat_id is not None else self.id
        return {
            "message_id": self.api.new_message_id(chat),
            "date": int(time.time()),
            "chat": _chat_json(chat, self.first_name),
            "from": self.json(),
            **fields,
        }

    # -- sending -------------------------------------------------------------------------------

    def send_text(self, text: str) -> int:
        """Type a message."""
        return self.api.push("message", self.message_json(text=text))

    def send_command(self, name: str, args: str = "") -> int:
        """Send /name (with args), with the bot_command entity Telegram adds."""
        command = f"/{name}"
        text = f"{command} {args}".strip()
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.api.push("message", self.message_json(text=text, entities=entities))

    def send_sticker(self) -> int:
        """Send a sticker."""
        sticker = {
            "file_id": "stk",
            "file_unique_id": "stku",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "🙂",
        }
        return self.api.push("message", self.message_json(sticker=sticker))

    def send_photo(self, caption: str | None = None) -> int:
        """Send a photo, with an optional caption."""
        fields: dict[str, Any] = {
            "photo": [{"file_id": "ph", "file_unique_id": "phu", "width": 90, "height": 90}]
        }
        if caption is not None:
            fields["caption"] = caption
        return self.api.push("message", self.message_json(**fields))

    def send_voice(self) -> int:
        """Send a voice note."""
        return self.api.push(
            "message", self.message_json(voice={"file_id": "v", "file_unique_id": "vu", "duration": 3})
        )

    def send_document(self) -> int:
        """Send a file."""
        return self.api.push(
            "message",
            self.message_json(document={"file_id": "d", "file_unique_id": "du", "file_name": "x.pdf"}),
        )

    def send_location(self) -> int:
        """Share a location."""
        return self.api.push("message", self.message_json(location={"latitude": 51.5, "longitude": -0.12}))

    def edit_text(self, message_id: int, text: str) -> int:
        """Edit a message this user sent earlier."""
        payload = self.message_json(text=text)
        payload["message_id"] = message_id
        payload["edit_date"] = int(time.time())
        return self.api.push("edited_message", payload)

    def send_in_group(self, group_id: int, text: str) -> int:
        """Say something in a group the bot is in."""
        return self.api.push("message", self.message_json(chat_id=group_id, text=text))

    def add_bot_to_group(self, group_id: int) -> int:
        """Add the bot to a group (Telegram sends my_chat_member: left → member)."""
        return self.api.push("my_chat_member", self._member_change(group_id, "left", "member"))

    def block(self) -> int:
        """Block the bot: later sends to this chat get 403, and my_chat_member says kicked."""
        self.api.blocked.add(self.id)
        return self.api.push("my_chat_member", self._member_change(self.id, "member", "kicked"))

    def unblock(self) -> int:
        """Unblock the bot (my_chat_member: kicked → member)."""
        self.api.blocked.discard(self.id)
        return self.api.push("my_chat_member", self._member_change(self.id, "kicked", "member"))

    def _member_change(self, chat_id: int, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": self.api._bot_user(), "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return {
            "chat": _chat_json(chat_id, self.first_name),
            "from": self.json(),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def press(self, choice: str | int = 0, message: BotMessage | None = None) -> int:
        """Press a button (by label or index) on the latest keyboard, or on `message`."""
        target = message or self.last_keyboard()
        if target is None:
            raise AssertionError(f"user {self.id} has no keyboard to press")
        if target.superseded:
            raise AssertionError("that message was edited into a later question: its buttons are gone")
        buttons = [b for row in target.keyboard for b in row]
        if isinstance(choice, int):
            button = buttons[choice]
        else:
            matches = [b for b in buttons if b["text"] == choice]
            if not matches:
                raise AssertionError(f"no button {choice!r}; labels: {[b['text'] for b in buttons]}")
            button = matches[0]
        return self.press_data(button["callback_data"], target)

    def press_data(self, data: str, message: BotMessage) -> int:
        """A callback_query with any data (also data the bot never sent)."""
        query = {
            "id": str(next(self.api._callback_ids)),
            "from": self.json(),
            "message": json.loads(json.dumps(message.raw)),
            "chat_instance": f"ci{self.id}",
            "data": data,
        }
        return self.api.push("callback_query", query)

    # -- reading -------------------------------------------------------------------------------

    @property
    def messages(self) -> list[BotMessage]:
        """Everything the bot sent to this user."""
        return self.api.chat_messages(self.id)

    def last_keyboard(self) -> BotMessage | None:
        """The latest message that still has buttons."""
        for message in reversed(self.messages):
            if message.keyboard and not message.superseded:
                return message
        return None

    def unread(self) -> list[BotMessage]:
        """Messages not yet read by wait_for_message, and mark them read."""
        new = self.messages[self._cursor :]
        self._cursor += len(new)
        return new

    async def wait_for_message(
        self,
        predicate: Callable[[BotMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> BotMessage:
        """The next unread bot message matching predicate (unread ones before it count as read)."""
        found: list[BotMessage] = []

        def check() -> bool:
            mine = self.messages
            for index in range(self._cursor, len(mine)):
                if predicate is None or predicate(mine[index]):
                    self._cursor = index + 1
                    found.append(mine[index])
                    return True
            return False

        try:
            await self.api.wait_until(check, timeout)
        except TimeoutError:
            texts = [m.text[:60] for m in self.messages[self._cursor :]]
            raise AssertionError(
                f"no matching message for user {self.id} within {timeout}s; unread: {texts}"
            ) from None
        return found[0]

    async def wait_for_keyboard(self, timeout: float = 5.0) -> BotMessage:  # noqa: ASYNC109
        """The next unread message with buttons."""
        return await self.wait_for_message(lambda m: bool(m.keyboard) and not m.superseded, timeout)


async def wait_for_message(
    api: FakeBotAPI,
    chat_id: int,
    predicate: Callable[[BotMessage], bool] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> BotMessage:
    """The first bot message to chat_id matching predicate, waiting up to timeout."""
    found: list[BotMessage] = []

    def check() -> bool:
        for message in api.chat_messages(chat_id):
            if predicate is None or predicate(message):
                found.append(message)
                return True
        return False

    await api.wait_until(check, timeout)
    return found[0]
