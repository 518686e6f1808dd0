"""One way to run a job at start and then every so often until the bot stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from neuroseq_core.service.logs import cause_of

log = logging.getLogger(__name__)


async def every(
    interval: float, stop: asyncio.Event, job: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run `job` now and then every `interval` seconds until `stop` is set; a failure is logged, not fatal."""
    while not stop.is_set():
        try:
            await job()
        except Exception as exc:  # a passing database or network fault must not stop the bot
            log.error(f"{name} failed", extra={"error": cause_of(exc)})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
