"""`neuroseq run` and `neuroseq webhook`: the Telegram adapter. The only module of neuroseq_core that imports bot/."""

from __future__ import annotations

import argparse

from bot.polling import run_polling
from bot.webhook import run_webhook
from neuroseq_core.service.settings import Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the bot by long polling (`run`) or behind a webhook (`webhook`)."""
    settings.require_token()
    return run_polling(settings) if args.command == "run" else run_webhook(settings)
