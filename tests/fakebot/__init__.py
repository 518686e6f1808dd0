"""A fake Telegram Bot API server for offline adapter tests."""

from .server import BotMessage, Call, FakeBotAPI, FakeUser, Fault, parse_html, wait_for_message

__all__ = ["BotMessage", "Call", "FakeBotAPI", "FakeUser", "Fault", "parse_html", "wait_for_message"]
