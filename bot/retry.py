"""The one retry policy for Telegram calls.

Every call that is retried goes through `call_with_retry`: a 429 waits as long as Telegram says, a
network error or timeout (5xx included) waits with exponential backoff, and anything else is raised
at once. There is no other retry layer (the Application has no rate limiter: bot/app.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)
T = TypeVar("T")


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait, in seconds (int or timedelta, as PTB gives it)."""
    with warnings.catch_warnings():  # PTB warns that the int form will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a call is tried again, and how long to wait in between."""

    retries: int = 4
    backoff: float = 0.5  # first wait after a network error; doubled each time
    max_backoff: float = 30.0


class RetriesExhausted(NetworkError):
    """The call failed every time it was tried; the caller keeps the work for later."""


class OutOfTime(RetriesExhausted):
    """Another try could not finish before the caller's deadline (its claim on the work ends)."""


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    context: dict[str, object] | None = None,
    time_left: Callable[[], float] | None = None,
    call_time: float = 0.0,
) -> T:
    """Run `call`, retrying 429s and network errors by the policy; other errors are raised at once.

    With `time_left` (seconds until the caller's deadline), no try is started, and no wait begun, that
    could end after the deadline given a call takes up to `call_time`: OutOfTime is raised instead.
    """
    delay = policy.backoff

    def fits(wait: float) -> bool:
        return time_left is None or wait + call_time < time_left()

    for attempt in range(policy.retries + 1):
        last = attempt == policy.retries
        if not fits(0.0):
            raise OutOfTime("lease ending")
        try:
            return await call()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            if last or not fits(wait):
                raise RetriesExhausted("rate limited") from exc
            log.warning("rate limited", extra={**(context or {}), "retry_after": wait})
            await sleep(wait)
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            if last or not fits(delay):
                raise RetriesExhausted(type(exc).__name__) from exc
            log.warning(
                "network error, retrying",
                extra={**(context or {}), "attempt": attempt + 1, "error": type(exc).__name__},
            )
            await sleep(delay)
            delay = min(delay * 2, policy.max_backoff)
    raise AssertionError("unreachable")  # pragma: no cover
