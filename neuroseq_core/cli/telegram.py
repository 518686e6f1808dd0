"""`neuroseq run` and `neuroseq webhook`: the Telegram adapter. The only module of neuroseq_core that imports bot/."""

from __future__ import annotations

import argparse

from bot.polling import run_polling
from bot.webhook import run_webhook
from neuroseq_core.content import ContentInvalid
from neuroseq_core.service.settings import ConfigurationError, Settings


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the bot by long polling (`run`) or behind a webhook (`webhook`)."""
    settings.require_token()
    try:
        return run_polling(settings) if args.command == "run" else run_webhook(settings)
    except ContentInvalid as exc:
        # At start-up broken content is a configuration mistake: one line (exit 2), not a list.
        errors = [e for e in exc.errors if not e.warning]
        first = str(errors[0]) if errors else "unreadable content"
        raise ConfigurationError(
            f"the content in {settings.content_dir or 'the shipped folder'} (NEUROSEQ_CONTENT_DIR) has {len(errors) or 1} "
            f"error(s), the first: {first} — `neuroseq content check` lists them all"
        ) from None
