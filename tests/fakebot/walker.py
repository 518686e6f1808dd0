"""Fake users who walk a whole conversation by pressing buttons, and transcripts to compare runs.

The walk depends only on structure, never on wording or counts: press a seeded-random option of the
newest question not yet answered, and stop once the results picture (sendPhoto) has arrived and a
question follows it. Prompts are told apart by the token in their callback_data, so a prompt the
bot delivered twice (at-least-once delivery after a crash) is recognised and not pressed again.
"""

from __future__ import annotations

import asyncio
import json
import random
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update

from bot.render import OutgoingEdit, OutgoingMessage, render_reply
from bot.telegram_events import Incoming, map_update
from neuroseq_core.content import Content, ContentHolder
from neuroseq_core.service import Service
from neuroseq_core.store.memory import MemoryStore

from .server import BotMessage, Call, FakeBotAPI, FakeUser

# Options that end the conversation before the questions (declining consent): never chosen.
# Not pressed by walkers: declining ends the walk; a language button asks the same question again
# (same token) in the other language, which a walker reading tokens would take for no answer.
DEAD_ENDS = frozenset({"decline", "language:es", "language:en"})
SEND_METHODS = ("sendmessage", "sendphoto")
EDIT = "editmessagetext"  # with buttons, the next question shown in place of the pressed one


def token_of(message: BotMessage) -> str:
    """The prompt token of a message's buttons ("" when it has none)."""
    for row in message.keyboard:
        for button in row:
            return str(button.get("callback_data", "")).split("|", 1)[0]
    return ""


def option_ids(message: BotMessage) -> list[str]:
    """The option ids of a message's buttons, in reading order."""
    return [str(b["callback_data"]).split("|", 1)[1] for row in message.keyboard for b in row]


class ChatIndex:
    """The server's messages grouped by chat, kept up to date incrementally.

    FakeBotAPI.chat_messages scans every message; fifty users re-checking after every call would
    spend the test's time there. Messages are only ever appended (an edit changes one in place, or,
    when it asks something new, appends it again).
    """

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.read = 0
        self.chats: dict[int, list[BotMessage]] = {}

    def messages(self, chat_id: int) -> list[BotMessage]:
        """This chat's bot messages, in order."""
        new = self.api.messages[self.read :]
        self.read += len(new)
        for message in new:
            self.chats.setdefault(message.chat_id, []).append(message)
        return self.chats.get(chat_id, [])


_INDEXES: weakref.WeakKeyDictionary[FakeBotAPI, ChatIndex] = weakref.WeakKeyDictionary()


def chat_index(api: FakeBotAPI) -> ChatIndex:
    """The shared ChatIndex of this server."""
    index = _INDEXES.get(api)
    if index is None:
        index = _INDEXES[api] = ChatIndex(api)
    return index


@dataclass
class Walk:
    """One user's walk: the presses made, as (token, option id), in order."""

    user: FakeUser
    presses: list[tuple[str, str]] = field(default_factory=list)
    finished: bool = False
    settled: int = 0  # messages before this index hold no prompt the walk still has to answer

    @property
    def tokens(self) -> set[str]:
        """Tokens of the prompts already answered."""
        return {token for token, _ in self.presses}


def _next_prompt(walk: Walk) -> tuple[BotMessage, bool] | None:
    """The newest unanswered prompt, and whether the results picture came before it."""
    messages = chat_index(walk.user.api).messages(walk.user.id)
    answered = walk.tokens
    for index in range(len(messages) - 1, walk.settled - 1, -1):
        message = messages[index]
        token = token_of(message)
        if token and token not in answered:
            # Older unanswered prompts are never pressed (the newest one wins), so skip them next time.
            walk.settled = index
            return message, any(m.is_photo for m in messages[:index])
    walk.settled = len(messages)
    return None


async def walk_to_results(
    user: FakeUser,
    rng: random.Random,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109
    max_steps: int = 120,
    avoid: frozenset[str] = DEAD_ENDS,
    walk: Walk | None = None,
) -> Walk:
    """Send /start, then answer every prompt with a random option until the results arrive."""
    walk = walk or Walk(user)
    user.send_command("start")
    for _ in range(max_steps):
        found: list[tuple[BotMessage, bool]] = []

        def ready(found: list[tuple[BotMessage, bool]] = found) -> bool:
            prompt = _next_prompt(walk)
            if prompt is not None:
                found.append(prompt)
            return prompt is not None

        try:
            await user.api.wait_until(ready, timeout)
        except TimeoutError:
            texts = [m.text[:40] for m in user.messages[-4:]]
            raise AssertionError(
                f"user {user.id}: no new prompt within {timeout}s after {len(walk.presses)} presses; last: {texts}"
            ) from None
        message, after_results = found[-1]
        if after_results:
            walk.finished = True
            return walk
        ids = [i for i in option_ids(message) if i not in avoid] or option_ids(message)
        choice = rng.choice(ids)
        walk.presses.append((token_of(message), choice))
        data = next(
            str(b["callback_data"])
            for row in message.keyboard
            for b in row
            if b["callback_data"].endswith("|" + choice)
        )
        user.press_data(data, message)
    raise AssertionError(f"user {user.id}: no results after {max_steps} presses")


async def walk_all(
    api: FakeBotAPI,
    user_ids: Iterable[int],
    seed: int,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[Walk]:
    """Walk all these users concurrently, each with its own seeded Random."""
    walks = [Walk(api.user(uid)) for uid in user_ids]
    await asyncio.gather(
        *(
            walk_to_results(w.user, random.Random(seed * 100_003 + w.user.id), timeout=timeout, walk=w)
            for w in walks
        )
    )
    return walks


def is_send(call: Call) -> bool:
    """A call that shows the user something new: a message, a picture, or an edit that asks the
    next question in place (an edit that only marks the answer given is not)."""
    method = call.method.lower()
    return method in SEND_METHODS or (method == EDIT and bool(call.params.get("reply_markup")))


def sends(api: FakeBotAPI, chat_id: int) -> list[Call]:
    """The bot's accepted sends (and in-place questions) to one chat, in the order the server took them."""
    return [c for c in api.calls if c.ok and is_send(c) and str(c.params.get("chat_id")) == str(chat_id)]


def signature(call: Call) -> tuple[str, str, str]:
    """What the user sees of one send: method, text or caption as sent, and the keyboard."""
    text = call.params.get("caption") if call.method.lower() == "sendphoto" else call.params.get("text")
    markup = call.params.get("reply_markup")
    return call.method.lower(), str(text or ""), json.dumps(markup, sort_keys=True) if markup else ""


def transcript(api: FakeBotAPI, chat_id: int) -> list[tuple[str, str, str]]:
    """A chat as the user saw it: the signature of every message, in order."""
    return [signature(c) for c in sends(api, chat_id)]


def duplicates(api: FakeBotAPI, chat_id: int) -> list[tuple[Call, Call]]:
    """Pairs (previous copy, repeat) of sends to a chat with the same signature."""
    last: dict[tuple[str, str, str], Call] = {}
    pairs: list[tuple[Call, Call]] = []
    for call in sends(api, chat_id):
        key = signature(call)
        if key in last:
            pairs.append((last[key], call))
        last[key] = call
    return pairs


def stored_answers(walk: Walk) -> list[str | None]:
    """What the questions' part of a walk should have stored: the last presses, "skip" as None."""
    return [None if option == "skip" else option for _, option in walk.presses]


def expect_answers(walk: Walk, answers: dict[str, Any]) -> None:
    """Assert the session's answers are exactly this walk's last len(answers) presses, in order."""
    assert answers, f"user {walk.user.id}: no answers stored"
    pressed = stored_answers(walk)[-len(answers) :]
    assert list(answers.values()) == pressed, (walk.user.id, answers, walk.presses)


def record_updates(api: FakeBotAPI) -> list[dict[str, Any]]:
    """From now on, keep a copy of every update the users push (the server's push is wrapped)."""
    log: list[dict[str, Any]] = []
    push = api.push

    def recording_push(kind: str, payload: dict[str, Any]) -> int:
        update_id = push(kind, payload)
        log.append(json.loads(json.dumps({"update_id": update_id, kind: payload})))
        return update_id

    api.push = recording_push  # type: ignore[method-assign]
    return log


async def replay(content: Content, updates: list[dict[str, Any]]) -> dict[int, list[tuple[str, str, str]]]:
    """What each chat should have seen: the updates run once each, in order, through the real
    Service on a fresh memory store, and rendered as the adapter renders them (no network)."""
    store = MemoryStore()
    service = Service(store, ContentHolder(content))
    expected: dict[int, list[tuple[str, str, str]]] = {}
    seen: set[int] = set()
    for data in updates:
        if data["update_id"] in seen:
            continue
        seen.add(data["update_id"])
        action = map_update(Update.de_json(data, None))
        if not isinstance(action, Incoming):
            continue
        items = await service.handle(action.user_id, action.chat_id, action.event, data["update_id"])
        chat = expected.setdefault(int(action.chat_id), [])
        for item in items:
            for part in render_reply(item.reply):
                if isinstance(part, OutgoingMessage | OutgoingEdit):
                    method = "sendmessage" if isinstance(part, OutgoingMessage) else EDIT
                    markup = part.keyboard.to_dict() if part.keyboard else None
                    chat.append((method, part.text, json.dumps(markup, sort_keys=True) if markup else ""))
                else:
                    chat.append(("sendphoto", part.caption, ""))
    return expected
