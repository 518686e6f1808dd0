"""Runs the real bot (polling mode) against the fake Bot API inside a test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.polling import serve_polling
from bot.webhook import serve_webhook
from neuroseq_core.service.settings import Settings
from neuroseq_core.store.base import Store

from .server import FakeBotAPI, free_socket

FAST = {"long_poll": 1, "retry_delay": 0.05, "http_timeout": 5.0, "backoff": 0.05, "flush_interval": 0.3}


def settings_for(api: FakeBotAPI, **extra: Any) -> Settings:
    """Settings pointing the bot at the fake server."""
    return Settings(TELEGRAM_BOT_TOKEN=api.token, telegram_api_url=api.base_url, **extra)


@dataclass
class RunningBot:
    """A polling bot task and what it runs on."""

    task: asyncio.Task[int]
    stop: asyncio.Event

    async def shutdown(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """Ask it to stop and wait for its exit code."""
        self.stop.set()
        return await asyncio.wait_for(self.task, timeout)


@contextlib.asynccontextmanager
async def polling_bot(
    api: FakeBotAPI, store: Store, service: Any, **options: Any
) -> AsyncIterator[RunningBot]:
    """The bot polling the fake server until the block ends (fast timeouts unless overridden)."""
    merged = {**FAST, **options}
    stop = asyncio.Event()
    task = asyncio.create_task(serve_polling(settings_for(api), stop, store=store, service=service, **merged))
    # Started once it has asked for updates (getMe, setMyCommands and deleteWebhook come first).
    await api.wait_until(lambda: "getUpdates" in api.started or task.done(), timeout=10)
    if task.done():
        task.result()
    running = RunningBot(task, stop)
    try:
        yield running
    finally:
        if not task.done():
            await running.shutdown()


async def outbox_drained(store: Store, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
    """Wait until the outbox is empty (a reply is marked sent just after the server has it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if not await store.pending_outbox():
            return True
        await asyncio.sleep(0.05)
    return False


@contextlib.asynccontextmanager
async def webhook_server(
    api: FakeBotAPI, store: Store, service: Any, secret: str, **options: Any
) -> AsyncIterator[int]:
    """The real webhook server (uvicorn) on a free 127.0.0.1 port until the block ends; yields the
    port once setWebhook was called and the port accepts connections."""
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = settings_for(
        api,
        webhook_url=f"http://127.0.0.1:{port}/hook",
        webhook_secret=secret,
        webhook_listen=f"127.0.0.1:{port}",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_webhook(
            settings, stop, store=store, service=service, sockets=[sock], **{"http_timeout": 5.0, **options}
        )
    )
    await api.wait_until(lambda: bool(api.calls_to("setWebhook")) or task.done(), timeout=10)
    for _ in range(100):
        if task.done():
            task.result()
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
