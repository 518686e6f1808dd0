"""Telegram Update → what the bot should do: a core Event for a user, or a chat-level action.

Private chats only carry conversations. Groups and channels store nothing: when the bot is added
to a group it says once that it works in private chats; everything else there is ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from telegram import ChatMember, Message, Update
from telegram.constants import ChatType, MessageLimit

from bot.render import parse_callback_data
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.domain.events import Choice, Command, Event, Start, Text, Unsupported, parse_command


@dataclass(frozen=True)
class Incoming:
    """An event for the engine, from one user in their private chat."""

    user_id: str
    chat_id: str
    event: Event
    callback_query_id: str | None = None  # a button press: always answered, stale or not


@dataclass(frozen=True)
class AddedToGroup:
    """The bot was added to a group: say once that it only works in private chats."""

    chat_id: str
    language: str | None


@dataclass(frozen=True)
class MemberStatus:
    """The user blocked the bot (inactive) or came back (active) in their private chat."""

    user_id: str
    active: bool


@dataclass(frozen=True)
class Ignored:
    """Nothing to do (a group message, a service message, a bot); the reason is for logs only."""

    reason: str
    callback_query_id: str | None = None  # a press we cannot use is still answered


Action = Incoming | AddedToGroup | MemberStatus | Ignored

# Kinds of message the bot cannot read, in the order Telegram documents them; the first attribute
# present names the kind.
_MEDIA = (
    "animation",
    "audio",
    "document",
    "paid_media",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
)

_GONE = {ChatMember.LEFT, ChatMember.BANNED}
_PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def start_payload(args: str) -> str | None:
    """A start parameter as Telegram allows one: 1-64 characters of A-Z, a-z, 0-9, _ and -."""
    return (
        args
        if 0 < len(args) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in args)
        else None
    )


def message_event(message: Message, now: dt.datetime) -> Event | None:
    """The Event a private message carries, or None for service messages (pins, joins...)."""
    if message.text is not None:
        text = message.text[: MessageLimit.MAX_TEXT_LENGTH]  # cannot be longer; guard anyway
        command = parse_command(text)
        if command is not None:
            name, args = command
            if name == "start":
                language = message.from_user.language_code if message.from_user else None
                # A deep link's parameter (https://t.me/<bot>?start=<code>): an invite, if it looks like one.
                return Start(language=language, payload=start_payload(args), now=now)
            return Command(name=name, args=args, now=now)
        return Text(text=text, now=now)
    for kind in _MEDIA:
        if getattr(message, kind, None):
            if message.caption:
                # Words typed with a photo or file are still the user's words: they go through the
                # same handling (and safety screen) as any typed text.
                return Text(text=message.caption[: MessageLimit.CAPTION_LENGTH], now=now)
            return Unsupported(what=kind, now=now)
    return None


def map_update(update: Update, now: dt.datetime | None = None) -> Action:
    """Decide what one update means for the bot."""
    now = now or utcnow()

    query = update.callback_query
    if query is not None:
        user = query.from_user
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != ChatType.PRIVATE:
            return Ignored("callback outside a private chat", callback_query_id=query.id)
        parsed = parse_callback_data(query.data)
        if parsed is None or user.is_bot:
            return Ignored("callback data not ours", callback_query_id=query.id)
        if chat is not None and chat.id != user.id:
            # A private chat's id is its user's: anything else would put one person's answer in
            # another's conversation.
            return Ignored("chat is not the sender's", callback_query_id=query.id)
        token, option_id = parsed
        # Only a message we can still see can be edited into the next question.
        message = query.message
        shown = message.message_id if message is not None and message.is_accessible else None
        return Incoming(
            user_id=str(user.id),
            chat_id=str(chat.id if chat is not None else user.id),
            event=Choice(option_id=option_id, token=token, message_id=shown, now=now),
            callback_query_id=query.id,
        )

    member = update.my_chat_member
    if member is not None:
        chat = member.chat
        old, new = member.old_chat_member.status, member.new_chat_member.status
        if chat.type == ChatType.PRIVATE:
            if new in _GONE:
                return MemberStatus(user_id=str(member.from_user.id), active=False)
            if new in _PRESENT:
                return MemberStatus(user_id=str(member.from_user.id), active=True)
            return Ignored("private member status unchanged")
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP) and old in _GONE and new in _PRESENT:
            return AddedToGroup(chat_id=str(chat.id), language=member.from_user.language_code)
        return Ignored("member change outside a private chat")

    if update.edited_message is not None:
        edited = update.edited_message
        if edited.chat.type != ChatType.PRIVATE or edited.from_user is None or edited.from_user.is_bot:
            return Ignored("edited message outside a private chat")
        if edited.chat.id != edited.from_user.id:
            return Ignored("chat is not the sender's")
        # Never silently re-answer an old question: an edit gets the "can't read that" reply.
        return Incoming(
            user_id=str(edited.from_user.id),
            chat_id=str(edited.chat.id),
            event=Unsupported(
                what="edited_message",
                text=(edited.text or edited.caption or "")[: MessageLimit.MAX_TEXT_LENGTH] or None,
                now=now,
            ),
        )

    message = update.message
    if message is not None:
        if message.chat.type != ChatType.PRIVATE:
            return Ignored("message outside a private chat")
        if message.from_user is None or message.from_user.is_bot:
            return Ignored("message without a human sender")
        if message.chat.id != message.from_user.id:
            return Ignored("chat is not the sender's")
        event = message_event(message, now)
        if event is None:
            return Ignored("service message")
        return Incoming(user_id=str(message.from_user.id), chat_id=str(message.chat.id), event=event)

    return Ignored("update type not used")
