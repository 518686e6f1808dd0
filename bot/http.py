"""The Bot API client's HTTP: PTB's HTTPXRequest with a bound on calls in flight.

httpcore's pool scans every connection it holds, and every queued request, each time a request
starts or ends (with an is-idle count inside that loop), and checks each idle connection's socket
with two system calls. With PTB's default of up to 256 connections and a few hundred chats at once,
that scan cost more CPU than the calls themselves (a profile of bench/bench_e2e.py on PostgreSQL, 200
users: 8.8 s of 48). Here at most CONCURRENCY calls are in flight and the rest wait on an asyncio
semaphore, first come first served, so the pool stays small and its scans short.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.request import HTTPXRequest

# Calls in flight per process. On the loopback fake API 16 keep the bot's CPU busy; against Telegram
# (tens of ms a call) they allow a few hundred calls a second, over the rate Telegram accepts.
CONCURRENCY = 16


class BoundedRequest(HTTPXRequest):
    """HTTPXRequest with at most `concurrency` requests in flight (and as many connections)."""

    def __init__(self, concurrency: int = CONCURRENCY, **kwargs: Any) -> None:
        super().__init__(connection_pool_size=concurrency, **kwargs)
        self._slots = asyncio.Semaphore(concurrency)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """One HTTP request, once a slot is free."""
        async with self._slots:
            return await super().do_request(*args, **kwargs)
