"""neuroseq's Telegram adapter (python-telegram-bot v22)."""

import os

# Opt in to python-telegram-bot's coming time type (RetryAfter.retry_after as a timedelta) so the
# library does not warn on every 429; bot.retry reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "1")
