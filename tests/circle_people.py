"""Adults around one child, talking to the real Service on one store: for the circle tests.

Each Person keeps what they received, in order: the replies to their own updates and what others'
actions queued for them (read from the outbox, as the flusher would send it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.events import Choice, Command, Due, Event, Reply, Start, Text
from neuroseq_core.service import Service
from neuroseq_core.store.base import Store
from neuroseq_core.store.memory import MemoryStore
from neuroseq_core.store.sql import SqlStore

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CIRCLE_ROWS = ("circles", "circle_members", "circle_invites", "circle_log")


class Clock:
    """A settable clock, shared by the store and the people."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Person:
    service: Service
    store: Store
    user_id: str
    clock: Clock
    language: str = "en"
    received: list[Reply] = field(default_factory=list)
    last: Reply | None = None

    async def send(self, event: Event) -> list[Reply]:
        items = await self.service.handle(self.user_id, self.user_id, event)
        for item in items:
            await self.store.mark_sent(item.id)
        replies = [i.reply for i in items if i.user_id == self.user_id]
        self._read(replies)
        return replies

    def _read(self, replies: list[Reply]) -> None:
        self.received += replies
        for reply in replies:
            if reply.choices:
                self.last = reply

    async def inbox(self) -> list[Reply]:
        """What others' actions queued for this person (sent by the flusher in Telegram)."""
        waiting = [i for i in await self.store.pending_outbox(1000) if i.user_id == self.user_id]
        for item in waiting:
            await self.store.mark_sent(item.id)
        self._read([i.reply for i in waiting])
        return [i.reply for i in waiting]

    async def start(self, payload: str | None = None) -> list[Reply]:
        return await self.send(Start(now=self.clock(), language=self.language, payload=payload))

    async def press(self, option: str | int = 0) -> list[Reply]:
        assert self.last is not None, f"{self.user_id} has no buttons"
        ids = [b.id for b in self.last.choices]
        option_id = ids[option] if isinstance(option, int) else option
        assert option_id in ids, (option_id, ids)
        return await self.send(Choice(now=self.clock(), option_id=option_id, token=self.last.token))

    async def type(self, text: str) -> list[Reply]:
        return await self.send(Text(now=self.clock(), text=text))

    async def command(self, name: str, args: str = "") -> list[Reply]:
        return await self.send(Command(now=self.clock(), name=name, args=args))

    async def due(self, what: str) -> list[Reply]:
        return await self.send(Due(now=self.clock(), what=what))

    def text(self, replies: list[Reply] | None = None) -> str:
        return "\n".join(to_plain(r.text) for r in (self.received if replies is None else replies))

    def ids(self) -> list[str]:
        return [b.id for b in self.last.choices] if self.last else []

    async def answer_questions(self, pick: int = 1) -> None:
        """Press the same option on every question until the results' menu."""
        for _ in range(40):
            if "more" in self.ids() or "uk" in self.ids():
                break
            await self.press(pick)
        if "uk" in self.ids():
            await self.press("uk")


async def carer_with_a_plan(person: Person, nickname: str | None = None) -> None:
    """A parent who answered the questions about their child (and, if given, a nickname)."""
    await person.start()
    await person.press("agree")
    await person.press("parent")
    await person.press("6-11")
    await person.answer_questions(2)
    if nickname:
        await person.press("deeper")
        await person.type(nickname)


async def invite(owner: Person, role: str, label: str, my_label: str | None = "Sam's mum") -> str:
    """/invite: the owner's label (first time), the role, the label; returns the code."""
    await owner.command("invite")
    if (
        owner.last is not None
        and "skip" in owner.ids()
        and my_label is not None
        and "carer" not in owner.ids()
    ):
        await owner.type(my_label)
    await owner.press(role)
    replies = await owner.type(label)
    codes = [r.invite for r in replies if r.invite]
    assert codes, owner.text(replies)
    return codes[0]


async def table_rows(store: Store, table: str) -> list[dict[str, Any]]:
    """Every row of a circle table, read directly (SQL), or the memory store's own rows."""
    if isinstance(store, MemoryStore):
        c = store._state.circles
        data, column = {
            "circles": (c.circles, "id"),
            "circle_members": (c.members, "user_id"),
            "circle_invites": (c.invites, "code_hash"),
            "circle_log": (c.log, "id"),
        }[table]
        return [{column: k, **vars(v)} for k, v in data.items()]  # type: ignore[attr-defined]
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM {table}"))  # our own table names
        return [dict(r._mapping) for r in result]
