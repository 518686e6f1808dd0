"""Webhook mode: Telegram POSTs each update; we answer 200 only after it is committed.

403 (and nothing processed) without the right X-Telegram-Bot-Api-Secret-Token (logged at most once a
minute, with a count); 400 for a body that is not an update; 200 for one that carries an update id but
makes no sense (logged by id and dropped: Telegram would otherwise send it again forever); 500 when
handling failed, so Telegram delivers it again.

The server trusts nothing it has not read: a body announced larger than MAX_BODY is refused on its
header, a streamed one is cut off as soon as it passes MAX_BODY (nothing more is buffered), headers
must arrive within HEADER_TIMEOUT and the body within BODY_TIMEOUT, and at most MAX_CONCURRENT
connections are served at once (uvicorn answers 503 beyond, which Telegram retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.app import ALLOWED_UPDATES, adapter_of
from bot.runtime import run_until_stopped, running
from neuroseq_core.service.logs import cause_of
from neuroseq_core.service.settings import ConfigurationError, Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY = 1_000_000  # bytes; real updates are a few KB
HEADER_TIMEOUT = 5.0  # seconds from connecting (or the last response) to a complete request head
BODY_TIMEOUT = 10.0  # seconds to receive the whole body
MAX_CONCURRENT = 1000  # connections and requests in flight (Telegram opens at most 100)
FORBIDDEN_LOG_EVERY = 60.0  # seconds between warnings about calls without the secret
HEALTH_TIMEOUT = 2.0  # seconds the database may take to answer /healthz
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def webhook_config(settings: Settings) -> tuple[str, str, str]:
    """(url, path, secret) from the settings, or a ConfigurationError saying what is missing."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not secret:
        raise ConfigurationError(
            "NEUROSEQ_WEBHOOK_SECRET is not set: webhook mode needs a secret so only Telegram can post updates"
        )
    if not _SECRET_RE.match(secret):
        raise ConfigurationError(
            "NEUROSEQ_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - (1 to 256 characters)"
        )
    url = settings.webhook_url or ""
    parsed = urlparse(url)
    if not url or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            "NEUROSEQ_WEBHOOK_URL is not set to a full URL, e.g. https://bot.example.org/telegram"
        )
    return url, parsed.path or "/", secret


def build_webhook_app(
    settings: Settings,
    application: Application[Any, Any, Any, Any, Any, Any],
) -> Starlette:
    """The ASGI app: POST <path of NEUROSEQ_WEBHOOK_URL> and GET /healthz."""
    _url, path, secret = webhook_config(settings)
    expected = secret.encode()
    adapter = adapter_of(application)
    forbidden = _Tally(FORBIDDEN_LOG_EVERY)

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        # Constant-time compare, so the answer time says nothing about the secret.
        if given is None or not hmac.compare_digest(given.encode(), expected):
            count = forbidden.add(asyncio.get_running_loop().time())
            if count:
                log.warning("webhook calls without the right secret", extra={"count": count})
            return PlainTextResponse("forbidden", status_code=403)
        try:
            body = await asyncio.wait_for(_read_body(request), BODY_TIMEOUT)
        except _TooLarge:
            return PlainTextResponse("too large", status_code=413)
        except TimeoutError:
            log.info("webhook body too slow; dropped the connection")
            return PlainTextResponse("too slow", status_code=408)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
        except ValueError:  # not from Telegram at all (it always sends an update): nothing to retry
            log.warning("webhook body is not an update")
            return PlainTextResponse("bad request", status_code=400)
        try:
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # an update we cannot read: answered, so it is not sent again forever
            log.warning(
                "unreadable update dropped",
                extra={"update_id": data["update_id"], "error": type(exc).__name__},
            )
            return PlainTextResponse("dropped", status_code=200)
        try:
            ok = await adapter.process(application, update)
        except Exception as exc:  # answer 500 so Telegram retries; the update was not committed
            log.error("webhook update failed", extra={"update_id": update.update_id, "error": cause_of(exc)})
            ok = False
        return PlainTextResponse("ok" if ok else "failed", status_code=200 if ok else 500)

    async def healthz(request: Request) -> Response:
        # Healthy means able to take updates: the database answers (a load balancer stops sending
        # here while it does not, instead of every update failing with 500).
        try:
            await asyncio.wait_for(adapter.store.ping(), HEALTH_TIMEOUT)
        except Exception as exc:
            log.warning("health check: database unreachable", extra={"error": cause_of(exc)})
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


class _TooLarge(Exception):
    """The body is larger than MAX_BODY."""


async def _read_body(request: Request) -> bytes:
    """The body, refused on its Content-Length or as soon as the stream passes MAX_BODY."""
    announced = request.headers.get("content-length")
    if announced is not None and (not announced.isdigit() or int(announced) > MAX_BODY):
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _Tally:
    """Counts events and says how many there were at most once per `every` seconds."""

    def __init__(self, every: float) -> None:
        self.every, self.count, self.last = every, 0, float("-inf")

    def add(self, now: float) -> int:
        """Count one; the total since the last report when a report is due, else 0."""
        self.count += 1
        if now - self.last < self.every:
            return 0
        count, self.count, self.last = self.count, 0, now
        return count


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head (uvicorn has none, so a
    client sending its headers a byte a minute would hold a connection for ever)."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_too_slow)

    def data_received(self, data: bytes) -> None:
        """Between requests, the first byte starts the clock; a complete head stops it."""
        if self._between_requests() and self._head_timer is None:
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_too_slow)
        super().data_received(data)
        if not self._between_requests() and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal capture: we stop it from our handlers, then clean up."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No-op: signals are installed by install_stop_signals."""
        yield


async def serve_webhook(settings: Settings, stop: asyncio.Event, **options: Any) -> int:
    """Open everything, setWebhook, and serve until stop is set."""
    url, _path, secret = webhook_config(settings)
    host, port = settings.listen_host_port()
    sockets = options.pop("sockets", None) or [listen_socket(host, port)]  # before anything opens
    async with running(settings, **options) as rt:
        app = build_webhook_app(settings, rt.application)
        await rt.application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            http=GuardedH11,
            limit_concurrency=MAX_CONCURRENT,
            timeout_keep_alive=int(HEADER_TIMEOUT),
        )
        server = QuietServer(config)
        serving = asyncio.create_task(server.serve(sockets=sockets))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopped.cancel()
        await serving
    return 0


def listen_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use is one clear line before anything is opened."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} (NEUROSEQ_WEBHOOK_LISTEN): {exc.strerror or exc}"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_webhook(settings: Settings) -> int:
    """Run the bot as a webhook server until SIGINT/SIGTERM; returns the exit code."""
    webhook_config(settings)  # refuse to start on bad configuration before opening anything
    settings.listen_host_port()
    return run_until_stopped(serve_webhook, settings)
