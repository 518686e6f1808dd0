"""The console adapter: the same engine and store as Telegram, on standard input and output."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import TextIO

from neuroseq_core.content import ContentHolder, load_or_raise
from neuroseq_core.content.render import to_plain
from neuroseq_core.domain.clock import utcnow
from neuroseq_core.domain.events import Choice, Command, Event, Reply, Start, Text, parse_command
from neuroseq_core.engine import match_button
from neuroseq_core.service import Service
from neuroseq_core.service.settings import Settings
from neuroseq_core.store.base import Store
from neuroseq_core.store.open import open_store


def format_reply(reply: Reply) -> str:
    """A reply as console text: the words, then each choice as `  1) Label`."""
    lines = [to_plain(reply.text)]
    if reply.picture is not None:
        lines.append(f"[picture: {to_plain(reply.picture.caption)}]")
    if reply.invite is not None:
        lines.append(f"/join {reply.invite}")  # in Telegram, a link that opens the bot with the code
    for i, button in enumerate(reply.choices, start=1):
        lines.append(f"  {i}) {to_plain(button.label)}")
    return "\n".join(lines)


def parse_input(line: str, last: Reply | None, now: dt.datetime) -> Event:
    """A typed line as an event: a number or label of the last choices, a /command, or free text."""
    text = line.rstrip("\r\n")
    stripped = text.strip()
    command = parse_command(stripped)  # the same reading as in Telegram
    if command is not None:
        return Command(name=command[0], args=command[1], now=now)
    if last is not None and last.numbers_are_answers and any(ch.isdigit() for ch in stripped):
        return Text(text=stripped, now=now)  # "4", "12 years" at the age question: an age
    button = match_button(stripped, last.choices) if last is not None else None
    if button is not None and last is not None:
        return Choice(option_id=button.id, token=last.token, now=now)
    return Text(text=text, now=now)


async def run_console(
    stdin: TextIO, stdout: TextIO, store: Store, content: ContentHolder, user_id: str = "console"
) -> int:
    """Talk until end of input; every answer is committed before the reply is shown."""
    service = Service(store, content)
    last: Reply | None = None
    user = f"console:{user_id}"

    async def run(event: Event) -> None:
        nonlocal last
        items = await service.handle(user, user, event)
        for item in items:
            stdout.write(format_reply(item.reply) + "\n\n")
            stdout.flush()
            await store.mark_sent(item.id)
            if item.reply.choices:
                last = item.reply

    # Replies committed but never shown (the console was killed mid-way) are shown first.
    for item in await store.pending_outbox():
        if item.user_id == user:
            stdout.write(format_reply(item.reply) + "\n\n")
            await store.mark_sent(item.id)
    await run(Start(now=utcnow()))
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, stdin.readline)
        if line == "":
            return 0
        await run(parse_input(line, last, utcnow()))  # the console is the clock


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    holder = ContentHolder(load_or_raise(args.content or settings.content_dir))  # main reports errors
    store = await open_store(settings.database_url)
    try:
        return await run_console(sys.stdin, sys.stdout, store, holder, user_id=args.user)
    finally:
        await store.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`neuroseq console`: talk to the bot in this terminal, on the configured database."""
    return asyncio.run(_console(settings, args))
