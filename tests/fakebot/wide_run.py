"""`neuroseq run` (or `webhook`) with python-telegram-bot's rate limiter opened wide, for fault tests.

AIORateLimiter keeps the bot under Telegram's ~30 requests per second overall. The fake Bot API has
no such limit, and fifty users' full conversations at 30 calls a second would take minutes, so this
runs the real command with the limiter's throughput caps off. Its 429 handling (wait retry_after,
retry) is kept: the fault tests inject 429s on purpose.

Usage: python tests/fakebot/wide_run.py run
"""

from __future__ import annotations

import sys
from typing import Any

from telegram.ext import AIORateLimiter

import bot.app


class WideRateLimiter(AIORateLimiter):
    """AIORateLimiter without the overall and per-group rate caps (retries on 429 unchanged)."""

    def __init__(self, *args: Any, max_retries: int = 0, **kwargs: Any) -> None:
        super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)


def widen() -> None:
    """Make build_application use WideRateLimiter (in this process)."""
    bot.app.AIORateLimiter = WideRateLimiter  # type: ignore[misc]


if __name__ == "__main__":
    widen()
    from neuroseq_core.cli import main

    raise SystemExit(main(sys.argv[1:]))
