"""bot/http.py: at most CONCURRENCY Bot API calls in flight; the rest wait their turn, none is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.request import HTTPXRequest

from bot.http import BoundedRequest


async def test_calls_past_the_bound_wait_and_all_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    in_flight = peak = 0

    async def slow(self: HTTPXRequest, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return 200, url.encode()

    monkeypatch.setattr(HTTPXRequest, "do_request", slow)
    request = BoundedRequest(concurrency=3)
    try:
        results = await asyncio.gather(*(request.do_request(f"u{i}", "POST") for i in range(20)))
    finally:
        await request.shutdown()
    assert peak == 3
    assert [body for _, body in results] == [f"u{i}".encode() for i in range(20)]


def test_the_pool_holds_as_many_connections_as_calls_in_flight() -> None:
    request = BoundedRequest(concurrency=5)
    limits = request._client._transport._pool._max_connections  # type: ignore[attr-defined]
    assert limits == 5


def test_the_application_sends_through_the_bounded_request() -> None:
    from bot.app import build_application
    from neuroseq_core.service.settings import Settings
    from neuroseq_core.store.memory import MemoryStore

    settings = Settings(TELEGRAM_BOT_TOKEN="123456:" + "A" * 35, telegram_api_url="http://127.0.0.1:9/bot")
    application = build_application(settings, service=object(), store=MemoryStore(), http_timeout=7.0)  # type: ignore[arg-type]
    request = application.bot.request
    assert isinstance(request, BoundedRequest)
    assert request.read_timeout == 7.0
    # getUpdates keeps its own single connection, outside the bound (a long poll must not hold a slot).
    assert not isinstance(application.bot._request[0], BoundedRequest)  # type: ignore[attr-defined]
