"""What polling and webhook mode share: opening the store and content, start-up and shut-down, signals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from bot.app import Adapter, ServiceLike, adapter_of, build_application, set_commands
from bot.periodic import every
from bot.reminders import REMINDER_INTERVAL, run_reminders
from neuroseq_core.content import ContentHolder, load_or_raise
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.service import Service
from neuroseq_core.service.logs import cause_of, quiet_libraries
from neuroseq_core.service.retention import purge
from neuroseq_core.service.settings import ConfigurationError, Settings
from neuroseq_core.store.base import Store
from neuroseq_core.store.open import open_store as open_configured_store

log = logging.getLogger(__name__)


def _shown_url(url: str) -> str:
    """The database URL without its password, for an error line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a URL)"


async def open_store(settings: Settings) -> Store:
    """The configured store (memory://, SQLite or PostgreSQL), migrated to the latest schema; any
    problem reaching it is one ConfigurationError naming NEUROSEQ_DATABASE_URL (never its password)."""
    url = settings.database_url
    try:
        return await open_configured_store(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"NEUROSEQ_DATABASE_URL is not a database URL neuroseq can use: {exc}"
        ) from None
    except (OSError, TimeoutError, sa.exc.SQLAlchemyError) as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = str(cause).splitlines()[0][:200] if str(cause) else type(cause).__name__
        raise ConfigurationError(
            f"cannot open the database at NEUROSEQ_DATABASE_URL={_shown_url(url)}: {reason}"
        ) from None


def load_content(settings: Settings) -> ContentHolder:
    """The live content holder (raises the loader's error, naming file and line, when invalid)."""
    return ContentHolder(load_or_raise(settings.content_dir), root=settings.content_dir)


def build_service(
    store: Store, holder: ContentHolder, admin_ids: frozenset[int] = frozenset()
) -> ServiceLike:
    """The core Service over this store and content (admins may /reload and /stats)."""
    service: ServiceLike = Service(store, holder, admin_ids)
    return service


def content_languages(holder: ContentHolder) -> list[str]:
    """Languages the content has messages in (for per-language command menus)."""
    return sorted(holder.current.messages)


def quiet_http_logs() -> None:
    """Keep tokens and user text out of library logs.

    httpx logs each request URL (which holds the bot token) at INFO; python-telegram-bot logs
    every request's parameters and every update (message text) at DEBUG.
    """
    for name, floor in (
        ("httpx", logging.WARNING),
        ("httpcore", logging.WARNING),
        ("telegram", logging.INFO),
    ):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < floor:
            logger.setLevel(floor)


class _Redact(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<token>"), None
        return True


def redact_in_logs(secret: str) -> None:
    """Replace the token in every record the root handlers write (PTB logs its URL at DEBUG)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redact) and f.secret == secret for f in handler.filters):
            handler.addFilter(_Redact(secret))


RELOAD_FOLLOW_INTERVAL = 10.0  # seconds between looks for another process's /reload
RETENTION_INTERVAL = 24 * 3600.0  # seconds between retention purges while the bot runs


async def run_retention(store: Store, retention_days: int, stop: asyncio.Event) -> None:
    """Purge inactive users' data at start and then daily, until stop is set."""

    async def once() -> None:
        removed = await purge(store, retention_days, utcnow())
        log.info("retention purge", extra={"users_removed": removed})

    await every(RETENTION_INTERVAL, stop, once, "retention purge")


STARTUP_DRAIN_ROUNDS = 20  # at most 20 × 100 replies before taking updates; the flusher does the rest


async def drain_outbox(adapter: Adapter) -> None:
    """Send what the outbox held at start (a failure is left for the flusher, and only logged)."""
    try:
        for _ in range(STARTUP_DRAIN_ROUNDS):
            if await adapter.sender.flush_pending() == 0:
                return
    except Exception as exc:
        log.error("start-up outbox drain failed", extra={"error": cause_of(exc)})


@dataclass
class Runtime:
    """A started bot: the Application, its adapter, the service and the store."""

    application: Application[Any, Any, Any, Any, Any, Any]
    adapter: Adapter
    service: ServiceLike
    store: Store


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    store: Store | None = None,
    service: ServiceLike | None = None,
    languages: list[str] | None = None,
    reminder_interval: float = REMINDER_INTERVAL,
    clock: Callable[[], dt.datetime] | None = None,
    **app_options: Any,
) -> AsyncIterator[Runtime]:
    """Open everything, start the Application and the outbox flusher; undo it all on exit."""
    settings.require_token()  # a clear configuration error before anything is opened
    quiet_http_logs()
    quiet_libraries()
    redact_in_logs(settings.require_token())
    own_store = store is None
    if service is None:
        holder = load_content(settings)
        store = store or await open_store(settings)
        service = build_service(store, holder, settings.admin_ids)
        languages = content_languages(holder) if languages is None else languages
    assert store is not None
    stop_flusher = asyncio.Event()
    flusher: asyncio.Task[None] | None = None
    retention: asyncio.Task[None] | None = None
    reminders: asyncio.Task[None] | None = None
    follow: asyncio.Task[None] | None = None
    application = build_application(settings, service, store, clock=clock or utcnow, **app_options)
    try:
        try:
            await application.initialize()  # getMe: fails fast on a wrong token
        except InvalidToken:
            raise ConfigurationError(
                "Telegram rejected TELEGRAM_BOT_TOKEN: check the token from @BotFather"
            ) from None
        except NetworkError as exc:
            where = urlsplit(settings.telegram_api_url or "https://api.telegram.org").netloc
            raise ConfigurationError(
                f"cannot reach the Telegram Bot API at {where} ({type(exc).__name__}): check the network"
                " or NEUROSEQ_TELEGRAM_API_URL"
            ) from None
        await application.start()
        adapter = adapter_of(application)
        await set_commands(application, service, languages or [], settings.admin_ids)
        # Replies committed before a crash go out before any new update is taken, so a user never
        # sees the next question above the one it follows.
        released = await store.release_claims()  # SQLite: the sender before us is gone
        if released:
            log.info("outbox claims of an earlier process released", extra={"count": released})
        await drain_outbox(adapter)
        flusher = asyncio.create_task(adapter.sender.run_flusher(stop_flusher))
        retention = asyncio.create_task(run_retention(store, settings.retention_days, stop_flusher))
        follow = asyncio.create_task(
            every(RELOAD_FOLLOW_INTERVAL, stop_flusher, service.follow_reloads, "content reload check")
        )
        reminders = asyncio.create_task(
            run_reminders(
                store,
                service,
                adapter.sender,
                stop_flusher,
                interval=reminder_interval,
                clock=clock or utcnow,
            )
        )
        yield Runtime(application, adapter, service, store)
    finally:
        stop_flusher.set()
        for task in (flusher, retention, reminders, follow):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        if application.running:
            await application.stop()
        await application.shutdown()
        if own_store:
            await store.close()


def install_stop_signals(on_stop: Callable[[], None]) -> Callable[[], None]:
    """Call on_stop on SIGINT or SIGTERM; returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


def run_until_stopped(serve: Callable[[Settings, asyncio.Event], Awaitable[int]], settings: Settings) -> int:
    """Run `serve(settings, stop)` in a fresh event loop; SIGINT or SIGTERM sets stop."""

    async def main() -> int:
        stop = asyncio.Event()
        remove = install_stop_signals(stop.set)
        try:
            return await serve(settings, stop)
        finally:
            remove()

    return asyncio.run(main())
