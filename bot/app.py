"""The python-telegram-bot Application: one catch-all handler, the error handler, start-up calls.

Each update becomes an Event (bot.telegram_events), goes through Service.handle (one transaction:
session, processed update id and outbox together), and only then are the replies sent. No
ConversationHandler and no PTB persistence: the conversation lives in the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.http import BoundedRequest
from bot.recent import RecentSet
from bot.render import answered_text, label_for
from bot.sender import Sender
from bot.telegram_events import AddedToGroup, Ignored, Incoming, MemberStatus, map_update
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.domain.events import Choice, Event, Reply
from neuroseq_core.engine import MENU_COMMANDS
from neuroseq_core.service.logs import cause_of
from neuroseq_core.service.settings import Settings
from neuroseq_core.store.base import OutboxItem, Reminder, Store
from neuroseq_core.store.locks import KeyedLock

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
# The menu Telegram shows; descriptions come from content messages "commands.<name>".
# A command whose description content lacks is left out of the menu, so content decides the rest.
COMMANDS = MENU_COMMANDS  # the menu shows what the engine offers
ADMIN_MENU = ("reload", "stats")  # handled by the service, for NEUROSEQ_ADMIN_IDS only
ADAPTER_KEY = "neuroseq.adapter"
_APOLOGY_MEMORY = 10_000


class ServiceLike(Protocol):
    """What the adapter needs from neuroseq_core.service.Service."""

    async def handle(
        self, user_id: str, chat_id: str, event: Event, update_id: int | None = None
    ) -> list[OutboxItem]:
        """Handle one event in one transaction; the committed replies to send now."""
        ...

    def notice(self, message_id: str, language: str | None = None) -> Reply:
        """A fixed notice from content."""
        ...

    async def handle_reminder(self, reminder: Reminder, now: dt.datetime | None = None) -> list[OutboxItem]:
        """Run a claimed reminder through the engine (once); the replies to send now."""
        ...

    async def follow_reloads(self) -> bool:
        """Reload the content if another process's /reload went live."""
        ...


class Adapter:
    """Turns updates into service calls and deliveries; remembers which updates failed."""

    def __init__(
        self, service: ServiceLike, store: Store, sender: Sender, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.service = service
        self.store = store
        self.sender = sender
        self.clock = clock  # every event's `now` (the one clock; tests move it)
        self.failed: set[int] = set()  # update ids whose handling raised (for webhook/polling retries)
        self._chat_locks = KeyedLock()
        self._apologised = RecentSet(_APOLOGY_MEMORY)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB callback for every update."""
        await self.dispatch(update)

    async def dispatch(self, update: Update) -> None:
        """Handle one update fully; raises when the service could not commit it."""
        action = map_update(update, self.clock())
        if isinstance(action, Incoming):
            # The spinner is stopped while the update is handled, not before: one round trip less
            # per press (bench/bench_e2e.py). It is awaited below, so it never outlives the update.
            answering = (
                asyncio.ensure_future(self._answer_callback(action.callback_query_id))
                if action.callback_query_id is not None
                else None
            )
            try:
                # One chat at a time in this process: replies of two quick updates never interleave.
                async with self._chat_locks.hold(action.chat_id):
                    items = await self.service.handle(
                        action.user_id, action.chat_id, action.event, update.update_id
                    )
                    if (
                        isinstance(action.event, Choice)
                        and items
                        and not any(i.reply.press_refused or i.reply.edits is not None for i in items)
                    ):
                        # Not for a redelivered press (no items: it was shown the first time), nor
                        # for one that was not taken (an old button must not look answered), nor
                        # when the next question is shown in the pressed message (it echoes the answer).
                        await self._show_choice(update)
                    await self.sender.deliver(items)
            finally:
                if answering is not None:
                    await answering
        elif isinstance(action, MemberStatus):
            await self.store.set_active(action.user_id, action.active)
        elif isinstance(action, AddedToGroup):
            await self.sender.send_now(
                action.chat_id, self.service.notice("group.private_only", action.language)
            )
        elif isinstance(action, Ignored):
            if action.callback_query_id is not None:
                await self._answer_callback(action.callback_query_id)
            log.debug("update ignored", extra={"update_id": update.update_id, "reason": action.reason})

    async def _answer_callback(self, query_id: str) -> None:
        # Always answered, so the button's spinner stops even for a stale or odd press.
        try:
            await self.sender.bot.answer_callback_query(query_id)
        except TelegramError as exc:
            log.info("callback answer failed", extra={"error": type(exc).__name__})

    async def _show_choice(self, update: Update) -> None:
        """Edit the question to show the chosen answer, without its keyboard."""
        query = update.callback_query
        if query is None or not isinstance(query.message, Message) or query.data is None:
            return
        message = query.message
        markup: InlineKeyboardMarkup | None = message.reply_markup
        label = label_for(markup, query.data)
        try:
            if message.text is not None and label is not None:
                text = answered_text(message.text_html, label)
                if text is not None:
                    await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=None)
                    return
            if markup is not None:
                await message.edit_reply_markup(reply_markup=None)
        except BadRequest:
            # Already edited (a redelivered press) or too old to edit: nothing to fix.
            log.debug("question edit refused", extra={"update_id": update.update_id})
        except TelegramError as exc:
            log.info(
                "question edit failed", extra={"update_id": update.update_id, "error": type(exc).__name__}
            )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure (class and update id only) and apologise to the user once."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "update failed", extra={"update_id": update_id, "error": cause_of(error) if error else None}
        )
        if not isinstance(update, Update) or update_id is None:
            return
        self.failed.add(update_id)
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE or update_id in self._apologised:
            return
        self._apologised.add(update_id)
        language = update.effective_user.language_code if update.effective_user else None
        try:
            reply = self.service.notice("error.apology", language)
        except Exception as exc:  # content trouble must not hide the original failure
            log.error("apology unavailable", extra={"error": type(exc).__name__})
            return
        await self.sender.send_now(str(chat.id), reply)

    async def process(self, application: Application[Any, Any, Any, Any, Any, Any], update: Update) -> bool:
        """Run one update through the Application; True when it was committed (not failed)."""
        self.failed.discard(update.update_id)
        await application.process_update(update)
        if update.update_id in self.failed:
            self.failed.discard(update.update_id)
            return False
        return True


def adapter_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Adapter:
    """The Adapter that build_application attached to this Application."""
    adapter = application.bot_data[ADAPTER_KEY]
    assert isinstance(adapter, Adapter)
    return adapter


def build_application(
    settings: Settings,
    service: ServiceLike,
    store: Store,
    *,
    http_timeout: float = 15.0,
    retries: int = 4,
    backoff: float = 0.5,
    flush_interval: float = 5.0,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application: our token and base URL, no Updater (we fetch updates ourselves), and no rate
    limiter: replies to a user's own update go at once (bot/retry.py honours a 429's retry_after), and
    the bot's own proactive messages are paced for the whole bot through the database (bot/pacing.py).
    PTB's AIORateLimiter capped every call with a chat_id at 30/s per process, so a press (an edit and
    a send) at 15/s whatever the load, and N processes at N × 30/s: neither fast nor a real limit."""
    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(settings.telegram_api_url or DEFAULT_BASE_URL)
        .updater(None)
        .request(
            BoundedRequest(
                connect_timeout=http_timeout,
                read_timeout=http_timeout,
                write_timeout=http_timeout,
                media_write_timeout=http_timeout,
                pool_timeout=http_timeout,
            )
        )
        .get_updates_request(
            HTTPXRequest(
                connection_pool_size=1,
                connect_timeout=http_timeout,
                read_timeout=http_timeout,
                pool_timeout=http_timeout,
            )
        )
    )
    application = builder.build()
    sender = Sender(
        application.bot,
        store,
        retries=retries,
        backoff=backoff,
        flush_interval=flush_interval,
        call_time=http_timeout,
    )
    adapter = Adapter(service, store, sender, clock)
    application.bot_data[ADAPTER_KEY] = adapter
    application.add_handler(TypeHandler(Update, adapter.on_update))
    application.add_error_handler(adapter.on_error)
    return application


def command_menu(
    service: ServiceLike, language: str | None = None, names: tuple[str, ...] = COMMANDS
) -> list[BotCommand]:
    """The command menu, with descriptions from content (a command without one is left out)."""
    commands: list[BotCommand] = []
    for name in names:
        try:
            description = to_plain(service.notice(f"commands.{name}", language).text).strip()
        except (KeyError, LookupError) as exc:
            log.warning(
                "no description for a command; left out", extra={"command": name, "error": type(exc).__name__}
            )
            continue
        if description:
            commands.append(BotCommand(name, description[:256]))
    return commands


async def set_commands(
    application: Application[Any, Any, Any, Any, Any, Any],
    service: ServiceLike,
    languages: Iterable[str] = (),
    admin_ids: Iterable[int] = (),
) -> None:
    """setMyCommands: the default menu, one per content language, and admins' own (failures are logged)."""
    menus: list[tuple[str | None, list[BotCommand], BotCommandScopeChat | None]] = [
        (None, command_menu(service), None)
    ]
    menus += [(lang, command_menu(service, lang), None) for lang in languages if len(lang) == 2]
    # Only admins see /reload and /stats in their menu (a menu scoped to their private chat).
    admin_menu = command_menu(service, None, COMMANDS + ADMIN_MENU)
    menus += [(None, admin_menu, BotCommandScopeChat(admin)) for admin in sorted(admin_ids)]
    for language, commands, scope in menus:
        if not commands:
            continue
        try:
            await application.bot.set_my_commands(commands, scope=scope, language_code=language)
        except TelegramError as exc:
            log.warning("setMyCommands failed", extra={"language": language, "error": type(exc).__name__})


__all__ = [
    "ALLOWED_UPDATES",
    "COMMANDS",
    "Adapter",
    "ServiceLike",
    "adapter_of",
    "build_application",
    "command_menu",
    "set_commands",
]
