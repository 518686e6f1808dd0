"""Configuration from the environment (names fixed in DESIGN.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")


class ConfigurationError(Exception):
    """Bad configuration: one clear line for the user, exit code 2."""


def default_database_url() -> str:
    """SQLite in the user's data folder ($XDG_DATA_HOME/neuroseq/neuroseq.db)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite+aiosqlite:///{base / 'neuroseq' / 'neuroseq.db'}"


class Settings(BaseSettings):
    """All settings; every field maps to one environment variable."""

    model_config = SettingsConfigDict(env_prefix="NEUROSEQ_", extra="ignore", populate_by_name=True)

    telegram_bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str | None = None  # python-telegram-bot base_url form: http://host:port/bot
    database_url: str = Field(default_factory=default_database_url)
    content_dir: Path | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1:8080"
    retention_days: int = Field(default=180, ge=1)
    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, v: object) -> object:
        if isinstance(v, str):
            parts = [p for p in re.split(r"[,\s]+", v) if p]
            if not all(p.lstrip("-").isdigit() for p in parts):
                raise ValueError("NEUROSEQ_ADMIN_IDS must be Telegram user ids separated by commas")
            return frozenset(int(p) for p in parts)
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("NEUROSEQ_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return v

    def require_token(self) -> str:
        """The bot token, or a ConfigurationError saying what is wrong (never the token)."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token"
            )
        token = self.telegram_bot_token.get_secret_value().strip()
        if not TOKEN_RE.match(token):
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then 35 letters)"
            )
        return token

    def listen_host_port(self) -> tuple[str, int]:
        """NEUROSEQ_WEBHOOK_LISTEN as (host, port)."""
        host, sep, port = self.webhook_listen.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ConfigurationError("NEUROSEQ_WEBHOOK_LISTEN must be host:port, e.g. 127.0.0.1:8080")
        return host.strip("[]"), int(port)


def load_settings() -> Settings:
    """Read settings from the environment; bad values become one clear ConfigurationError."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "setting"
        name = "TELEGRAM_BOT_TOKEN" if field == "TELEGRAM_BOT_TOKEN" else f"NEUROSEQ_{field.upper()}"
        raise ConfigurationError(f"{name}: {first['msg']}") from None
